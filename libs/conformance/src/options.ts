import type { KeyObject } from 'node:crypto';

/** The scenarios the kit runs, in this order. */
export const ScenarioNames = [
  'registration',
  'dry-run',
  'duplicate-command',
  'unknown-version',
  'malformed-message',
  'forged-and-stale',
  'legal-hold',
] as const;
export type ScenarioName = (typeof ScenarioNames)[number];

/** What the kit needs to drive one implementation under test. */
export interface ConformanceOptions {
  /** Kafka bootstrap servers of the deployment the implementation runs against. */
  brokers: string[];
  /** The deployment's topic prefix (RETENTION_TOPIC_PREFIX), may be empty. */
  topicPrefix: string;
  /** The service name the implementation registers and acks as. */
  service: string;
  /** The coordinator's signing key: the kit signs every command and hold as the coordinator would. */
  coordinatorKey: { keyId: string; privateKey: KeyObject };
  /**
   * The key-encryption key (RETENTION_COMMAND_KEK): with it the kit publishes a command key of its
   * own and seals subject ids as the coordinator does (erasure.requested 2.0, hold.placed 2.0).
   * Without it, it sends 1.x messages (subject ids in clear), which every 2.x reader also accepts.
   */
  commandKek?: Buffer;
  /** The subject type of the test subjects (one the implementation's manifest lists). */
  subjectType: string;
  /**
   * Ids of at least two subjects of that type that have rows in the implementation's store. The
   * kit erases them for real: the first in `duplicate-command`, the second in `legal-hold`.
   */
  subjects: string[];
  /** How long to wait for each ack or dead letter. */
  timeoutMs: number;
  /** Run only these (default: all, in {@link ScenarioNames} order). */
  scenarios?: readonly ScenarioName[];
  /** Progress lines (never secrets, never subject ids). */
  log?: (line: string) => void;
}

/** Why a scenario failed: said to the person who runs the kit. */
export class ScenarioFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioFailure';
  }
}

import { textRef, type TopicNames } from '@retention/contracts';
import { type CommandKeys, createCommandKeys } from './command-keys';
import { createSubjectVault, type SubjectVault } from './subject-vault';

export interface PrivacyOptions {
  topics: TopicNames;
  /** RETENTION_COMMAND_KEK: wraps the command keys (services hold it too). */
  kek: Buffer;
  /** RETENTION_SUBJECT_HMAC_KEY: subject refs, reason refs and the at-rest key derive from it. */
  hmacKey: string;
  rotationMs: number;
  lifetimeMs: number;
  /** A failed or stuck (not held) request forgets its subject id this long after it was made. */
  subjectMaxAgeMs: number;
}

/** Everything the coordinator needs to keep subject ids and reasons out of where they do not belong. */
export interface CoordinatorPrivacy {
  topics: TopicNames;
  vault: SubjectVault;
  commandKeys: CommandKeys;
  /** HMAC of a free-text reason: what the ledger and the holds topic carry instead of the text. */
  reasonRef(text: string): string;
  subjectMaxAgeMs: number;
}

export function createCoordinatorPrivacy(options: PrivacyOptions): CoordinatorPrivacy {
  return {
    topics: options.topics,
    vault: createSubjectVault(options.hmacKey),
    commandKeys: createCommandKeys({ kek: options.kek, topics: options.topics, rotationMs: options.rotationMs, lifetimeMs: options.lifetimeMs }),
    reasonRef: (text) => textRef(options.hmacKey, text),
    subjectMaxAgeMs: options.subjectMaxAgeMs,
  };
}

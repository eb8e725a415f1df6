import { readFileSync } from 'node:fs';
import { isKeyId, parseKek, parsePrivateKey } from '@retention/contracts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type ScenarioName, ScenarioNames } from './options';
import { formatReport } from './report';
import { ConformanceUsageError, runConformance } from './run-conformance';

export interface ConformanceIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: ConformanceIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
};

interface Flags {
  service: string;
  subjectType: string;
  subject: string[];
  brokers?: string;
  topicPrefix?: string;
  coordinatorKeyFile?: string;
  coordinatorKeyId?: string;
  commandKekFile?: string;
  timeout: number;
  scenario?: ScenarioName[];
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

/** A secret from a file flag, else from `NAME`, else from the file `NAME_FILE` names (never from a flag: argv is visible to every user). */
function secret(io: ConformanceIo, file: string | undefined, name: string): string | undefined {
  const path = file ?? io.env[`${name}_FILE`];
  if (path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConformanceUsageError(`${file ? 'the key file' : `${name}_FILE`} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return io.env[name] || undefined;
}

/**
 * `retention-conformance`: drives an implementation of the protocol through the scenarios that
 * matter and reports which it gets wrong. Exit codes: 0 every scenario conforms, 1 one or more do
 * not, 2 bad usage or configuration, or a broker the kit cannot use (no scenario ran).
 */
export async function main(argv: string[], io: ConformanceIo = defaultIo): Promise<number> {
  const program = new Command('retention-conformance')
    .description(
      "Checks a service's implementation of the retention protocol against a real broker: publishes commands and holds signed with the coordinator's key, reads its acks and dead letters.\n" +
        'Environment: KAFKA_BROKERS, RETENTION_TOPIC_PREFIX, RETENTION_COORDINATOR_SIGNING_KEY (or _FILE), RETENTION_COORDINATOR_SIGNING_KEY_ID, RETENTION_COMMAND_KEK (or _FILE).',
    )
    .requiredOption('--service <name>', 'the service name the implementation registers and acks as')
    .requiredOption('--subject-type <type>', 'a subject type its manifest lists')
    .requiredOption('--subject <id>', 'a subject id with rows in its store; give two (they are erased for real)', collect)
    .option('--brokers <list>', 'Kafka bootstrap servers, comma-separated (default: KAFKA_BROKERS)')
    .option('--topic-prefix <prefix>', 'topic prefix of the deployment (default: RETENTION_TOPIC_PREFIX, else none)')
    .option('--coordinator-key-file <path>', "file with the coordinator's Ed25519 private key (base64url seed or PKCS#8 PEM)")
    .option('--coordinator-key-id <id>', "the coordinator's key id (default: RETENTION_COORDINATOR_SIGNING_KEY_ID)")
    .option('--command-kek-file <path>', 'file with RETENTION_COMMAND_KEK: subject ids are then sealed as the coordinator seals them')
    .option('--timeout <seconds>', 'how long to wait for each ack or dead letter', seconds, 60)
    .addOption(new Option('--scenario <name>', 'run only this scenario (repeatable)').choices(ScenarioNames).argParser(collect))
    .option('--json', 'print the report as JSON')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  let flags: Flags;
  try {
    flags = program.parse(argv).opts<Flags>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }

  try {
    const brokers = (flags.brokers ?? io.env.KAFKA_BROKERS ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    const keyText = secret(io, flags.coordinatorKeyFile, 'RETENTION_COORDINATOR_SIGNING_KEY');
    const keyId = flags.coordinatorKeyId ?? io.env.RETENTION_COORDINATOR_SIGNING_KEY_ID;
    if (!keyText)
      throw new ConformanceUsageError("the coordinator's signing key is needed: --coordinator-key-file, or RETENTION_COORDINATOR_SIGNING_KEY(_FILE)");
    if (!keyId || !isKeyId(keyId)) throw new ConformanceUsageError("the coordinator's key id is needed (1 to 64 of [A-Za-z0-9._-]): --coordinator-key-id");
    const kekText = secret(io, flags.commandKekFile, 'RETENTION_COMMAND_KEK');
    const report = await runConformance({
      brokers,
      topicPrefix: flags.topicPrefix ?? io.env.RETENTION_TOPIC_PREFIX ?? '',
      service: flags.service,
      coordinatorKey: { keyId, privateKey: parsePrivateKey(keyText, 'coordinator key') },
      commandKek: kekText ? parseKek(kekText) : undefined,
      subjectType: flags.subjectType,
      subjects: flags.subject,
      timeoutMs: flags.timeout * 1000,
      scenarios: flags.scenario,
      log: (line) => io.err(line),
    });
    io.out(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    // Bad options, or a broker the kit cannot use (unreachable, topics missing): no scenario ran.
    const known = error instanceof ConformanceUsageError || (error as { code?: string }).code === 'invalid_config';
    io.err(`retention-conformance: ${known ? '' : 'cannot run: '}${(error as Error).message}`);
    return 2;
  }
}

import type { Command } from 'commander';
import { UsageError } from './usage-error';

export interface OperationsIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const TOPICS_ENV = `
Environment: KAFKA_BROKERS and the KAFKA_SSL_* / KAFKA_SASL_* settings of a principal that may
create topics (and ACLs): an admin, not a process's own. RETENTION_TOPIC_PREFIX,
RETENTION_TOPIC_PARTITIONS (command and ack topics; default 6: the most instances of one service
that work at once), RETENTION_TOPIC_REPLICATION_FACTOR (default -1: the brokers'
default.replication.factor). ACLs: SETUP_SERVICES, SETUP_ACLS, SETUP_COORDINATOR_PRINCIPAL
(default coordinator), SETUP_AUDITOR_PRINCIPALS (default auditor). Any X may be given as X_FILE.
Prints a JSON summary; existing topics are kept as they are (a topic with fewer partitions than
asked is reported on stderr, not altered). Exit 0 done, 1 the brokers refused or failed, 2 bad usage.`;

const MIGRATE_ENV = `
Environment: DATABASE_URL (the process's role), DATABASE_MIGRATIONS_URL (coordinator: the owner
role that runs the DDL and grants DATABASE_URL's role its rights), DATABASE_AUTO_CREATE (create the
database if missing), LOG_LEVEL (default warn); any X may be given as X_FILE. Prints the migrations
applied as JSON. Run it once per install and upgrade, before the processes start with
DATABASE_MIGRATE=false. Exit 0 done, 1 the database refused or failed, 2 bad usage.`;

/**
 * `retention topics apply` and `retention migrate`: the cluster's setup steps (Kafka topics and
 * ACLs, database migrations), run once per install or upgrade by an operator, a Job or `npm
 * start`, so the processes can start without CreateTopics or DDL rights. They talk to Kafka and
 * PostgreSQL, not to the coordinator API; their modules load only when one of them runs.
 */
export function registerOperationsCommands(program: Command, io: OperationsIo, setExitCode: (code: number) => void): void {
  const run = async (work: () => Promise<unknown>): Promise<void> => {
    try {
      const result = await work();
      io.out(JSON.stringify(result, null, 2));
    } catch (error) {
      io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
      setExitCode(error instanceof UsageError ? 2 : 1);
    }
  };

  program
    .command('topics')
    .description("the platform's Kafka topics")
    .command('apply')
    .description('create the missing topics with their partitions, replication and configs (and, with SASL or --acls, the ACLs)')
    .option('--services <names>', 'the domain services, comma separated (for the ACLs; default SETUP_SERVICES)')
    .option('--acls', 'create the ACLs of every principal (default: when KAFKA_SASL_MECHANISM is set)')
    .option('--no-acls', 'create no ACL')
    .addHelpText('after', TOPICS_ENV)
    .action(async (o: { services?: string; acls?: boolean }) =>
      run(async () => {
        const { topicsApply } = await import('./topics-apply');
        const result = await topicsApply(io.env, { services: o.services?.split(/[\s,]+/).filter(Boolean), acls: o.acls });
        for (const warning of result.warnings) io.err(`warning: ${warning}`);
        return result;
      }),
    );

  program
    .command('migrate')
    .description('apply the pending database migrations of the coordinator or of one domain service, then exit')
    .argument('<target>', 'coordinator, or a service name (orders, sessions, ...: the package @retention/service-<name>)')
    .addHelpText('after', MIGRATE_ENV)
    .action(async (target: string) =>
      run(async () => {
        const { migrate } = await import('./migrate');
        return migrate(target, io.env);
      }),
    );
}

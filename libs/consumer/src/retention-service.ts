import { randomUUID } from 'node:crypto';
import {
  encodeEvent,
  EventTypes,
  keyLookup,
  publicKeyOf,
  serviceCommandGroup,
  ServiceTopicKeys,
  topicNames,
  verifyMessage,
  errorSummary,
  parseKek,
} from '@retention/contracts';
import { signingKeyOf } from '@retention/config';
import { assertMigrated, createDataSource, databaseReadiness, ensureDatabase, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import {
  createDeadLetterCounter,
  createKafka,
  createPublisher,
  ensureTopics,
  kafkaSecurityFromConfig,
  topicOptionsOf,
  type Publisher,
  registerConsumerLagGauge,
  runConsumer,
  type RunningConsumer,
} from '@retention/kafka';
import { createLogger, createMetricsRegistry, type Logger, type Registry, startOpsServer, startTelemetry } from '@retention/observability';
import { OutboxMessage, outboxMigrations, OutboxRelay } from '@retention/outbox';
import {
  bindPolicies,
  type BoundPolicies,
  buildManifest,
  deleteRequestFiles,
  flushFileDeletions,
  missingIndexes,
  type Policies,
  policyMigrations,
} from '@retention/policy';
import type { DataSource, EntitySchema, MixedList } from 'typeorm';
import { createCommandHandler } from './command.handler';
import type { ServiceConfig } from './config';
import { startCommandKeysReplica } from './command-keys-replica';
import { type HoldsReplica, startHoldsReplica } from './holds-replica';
import { CreateRetentionInbox1763800000200 } from './inbox.migration';
import { CreateDeletionJournal1765500000900 } from './deletion-journal.migration';
import { createProbeHandler } from './probe.handler';
import { createReplayHandler } from './replay.handler';
import { journalPosition } from './journal-position';
import { journalKeyFrom } from './subject-hash';
import { safeErrorMessage } from './pg-errors';
import { createRetentionMetrics } from './metrics';
import { registerOldestUnprocessedGauge } from './oldest-unprocessed.gauge';
import { registerFileDeletionGauges } from './file-deletions.gauge';

/** What a domain service declares: its policies, entities and migrations. The SDK does the rest. */
export interface RetentionServiceDefinition {
  policies: Policies;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[];
  version: string;
  /** Inserts demo data into an empty database when `DEMO_DATA=true`; returns the rows inserted. */
  seedDemoData?: (dataSource: DataSource, context: { filesRoot?: string }) => Promise<number>;
}

/** What the runtime needs of the service's database: open and migrated, with the policies bound to its tables. */
export interface RetentionStore {
  dataSource: DataSource;
  bound: BoundPolicies;
}

/**
 * The runtime's view of a service, whatever describes its tables: the SDK binds the policies to
 * TypeORM entities ({@link startRetentionService}); the retention agent binds them to the live
 * catalog. Everything after `open` (manifest, holds, commands, inbox, outbox, metrics) is shared.
 */
export interface RetentionRuntimeDefinition {
  policies: Policies;
  version: string;
  /**
   * Opens the database with the retention tables migrated (inbox, outbox, holds, audit) and binds
   * the policies; a bad policy throws here. `onStop` registers cleanup, run at stop or when a later
   * start step fails.
   */
  open(context: { logger: Logger; onStop(stop: () => Promise<void>): void }): Promise<RetentionStore>;
  /** Inserts demo data into an empty database when `DEMO_DATA=true`; returns the rows inserted. */
  seedDemoData?: RetentionServiceDefinition['seedDemoData'];
}

export interface RunningRetentionService {
  service: string;
  dataSource: DataSource;
  bound: BoundPolicies;
  registry: Registry;
  /** The ops server: /healthz, /readyz, and /metrics unless METRICS_PORT gives it a port of its own. */
  url: string;
  /** `/metrics` (with /healthz, /readyz) on METRICS_PORT when set; else undefined (it is on `url`). */
  metricsUrl?: string;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts a domain service's part in retention: migrates its database, checks its policies against
 * its entities (a bad policy stops it here, naming the problem), publishes its manifest to the
 * registry, replicates legal holds, consumes commands and publishes acks through its outbox.
 */
export async function startRetentionService(
  definition: RetentionServiceDefinition,
  config: ServiceConfig,
  options: { logger?: Logger; registry?: Registry } = {},
): Promise<RunningRetentionService> {
  return startRetentionRuntime(
    {
      policies: definition.policies,
      version: definition.version,
      seedDemoData: definition.seedDemoData,
      open: async ({ logger, onStop }) => {
        if (config.DATABASE_AUTO_CREATE) await ensureDatabase(config.DATABASE_URL);
        const dataSource = createDataSource({
          url: config.DATABASE_URL,
          entities: [...(Array.isArray(definition.entities) ? definition.entities : Object.values(definition.entities)), OutboxMessage],
          migrations: [...retentionMigrations, ...definition.migrations],
          logger: new TypeOrmPinoLogger(logger),
          applicationName: `retention-${definition.policies.service}`,
        });
        // DATABASE_MIGRATE=false: `retention migrate` applied them; this role needs no DDL rights.
        await openDatabase(dataSource, { migrate: config.DATABASE_MIGRATE });
        onStop(() => dataSource.destroy());
        if (!config.DATABASE_MIGRATE) await assertMigrated(dataSource, definition.policies.service);
        const bound = bindPolicies(definition.policies, dataSource, {
          hashKey: config.RETENTION_HASH_KEY,
          filesRoot: config.RETENTION_FILES_ROOT,
          minPeriodDays: config.RETENTION_MIN_PERIOD_DAYS,
        });
        return { dataSource, bound };
      },
    },
    config,
    options,
  );
}

/** The migrations of the retention runtime's own tables (outbox, holds, audit, file deletions, inbox, deletion journal), in order. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const retentionMigrations: Function[] = [
  ...outboxMigrations,
  ...policyMigrations,
  CreateRetentionInbox1763800000200,
  CreateDeletionJournal1765500000900,
];

/**
 * {@link startRetentionService} for any description of the tables: `definition.open` opens the
 * database and binds the policies; the rest is the same for the SDK and the retention agent.
 */
export async function startRetentionRuntime(
  definition: RetentionRuntimeDefinition,
  config: ServiceConfig,
  options: { logger?: Logger; registry?: Registry } = {},
): Promise<RunningRetentionService> {
  const service = definition.policies.service;
  const logger = options.logger ?? createLogger({ service, level: config.LOG_LEVEL });
  const registry = options.registry ?? createMetricsRegistry(service);
  const telemetry = startTelemetry({ service, version: definition.version, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const instanceId = config.INSTANCE_ID ?? randomUUID().slice(0, 8);
  const topics = topicNames(config.RETENTION_TOPIC_PREFIX);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => logger.error({ err: errorSummary(error) }, 'error during shutdown'));
    }
  };

  try {
    const { dataSource, bound } = await definition.open({ logger, onStop: (stop) => stops.push(stop) });
    // Missing indexes do not stop the service (retention still works), but batches and the gauge
    // scan instead of seeking: say so at every start, with the statement that fixes it.
    for (const missing of await missingIndexes(dataSource.manager, bound)) logger.warn(missing, 'retention needs an index this table lacks');
    // Only file columns queue deletions (directory rules delete directly): no queue, no flush query.
    const queuesFiles =
      definition.policies.rules.some((r) => r.files) || Object.values(definition.policies.subjects).some((tables) => tables.some((t) => t.files));
    const flushFiles = async (): Promise<void> => {
      if (!bound.filesRoot || !queuesFiles) return;
      try {
        const result = await flushFileDeletions(dataSource, bound.filesRoot);
        if (result.deleted + result.missing > 0) logger.info({ files: result }, 'queued file deletions flushed');
        if (result.refused + result.failed > 0)
          logger.error({ files: result }, 'some queued files could not be deleted; they stay queued (see retention_file_deletions)');
      } catch (error) {
        // The queue is durable: what is not flushed now is flushed after the next command or restart.
        logger.error({ err: safeErrorMessage(error) }, 'flushing queued file deletions failed');
      }
    };
    // Files of rows deleted before a crash (batch committed, files not yet removed).
    await flushFiles();
    if (config.DEMO_DATA && definition.seedDemoData) {
      const rows = await definition.seedDemoData(dataSource, { filesRoot: config.RETENTION_FILES_ROOT });
      if (rows > 0) logger.info({ rows }, 'demo data inserted');
    }

    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID ?? `retention-${service}`,
      logger,
      security: kafkaSecurityFromConfig(config),
    });
    // Not the ledger's checkpoint topic: a service may not even describe it on a secured cluster.
    await ensureTopics(kafka, topics, ServiceTopicKeys, topicOptionsOf(config));
    // Everything this service publishes (acks, its registration, dead letters) carries its signature;
    // commands and holds are applied only when the coordinator's key signed them.
    const signer = signingKeyOf(config);
    const publisher: Publisher = await createPublisher(kafka, { signer });
    const coordinatorKeys = keyLookup(config.RETENTION_COORDINATOR_PUBLIC_KEYS);
    const skew = { maxSkewMs: config.RETENTION_MAX_CLOCK_SKEW_SECONDS * 1000 };
    stops.push(() => publisher.disconnect());

    const relay = new OutboxRelay({ dataSource, publisher, logger, registry });
    relay.start();
    stops.push(() => relay.stop());

    const commandGroup = serviceCommandGroup(config.RETENTION_TOPIC_PREFIX, service);
    const manifest = {
      ...buildManifest(definition.policies, definition.version),
      signingKey: { keyId: signer.keyId, publicKey: publicKeyOf(signer.privateKey) },
      consumerGroup: commandGroup,
      // The journal's state: the coordinator compares it with the erasures this service acked, and
      // replays the missing ones (a database restored from a backup) without any raw id.
      journal: await journalPosition(dataSource.manager),
    };
    logger.info({ journalEntries: manifest.journal.entries, lastErasedAt: manifest.journal.lastErasedAt ?? null }, 'deletion journal');
    const { value } = encodeEvent(EventTypes.serviceRegistered, manifest, { source: `/retention/services/${service}` });
    await publisher.publish([{ topic: topics.registry, key: service, value }]);

    const deadLetterCounter = createDeadLetterCounter(registry);
    // Subject ids in commands and holds are sealed: the command keys live in memory only.
    const commandKeys = await startCommandKeysReplica({
      kafka,
      kek: parseKek(config.RETENTION_COMMAND_KEK),
      topics,
      service,
      instanceId,
      publisher,
      logger,
      groupPrefix: config.RETENTION_TOPIC_PREFIX,
      deadLetterCounter,
      verify: (message, headers) => verifyMessage(coordinatorKeys, message, headers, skew),
    });
    stops.push(() => commandKeys.stop());
    const holds: HoldsReplica = await startHoldsReplica({
      kafka,
      dataSource,
      topics,
      service,
      instanceId,
      publisher,
      logger,
      groupPrefix: config.RETENTION_TOPIC_PREFIX,
      deadLetterCounter,
      // Holds are compacted state, replayed from the start by every new instance: no age limit. A
      // replayed placement of a released hold is ignored (the replica remembers released ids).
      verify: (message, headers) => verifyMessage(coordinatorKeys, message, headers, skew),
      openHold: (data) => commandKeys.openHold(data),
    });
    stops.push(() => holds.stop());

    const metrics = createRetentionMetrics(registry);
    const journalKey = journalKeyFrom(config.RETENTION_JOURNAL_KEY ?? config.RETENTION_HASH_KEY);
    const probe = createProbeHandler({
      dataSource,
      bound,
      topics,
      logger,
      journalKey,
      policyHash: manifest.policyHash,
      onResultQueued: () => relay.wake(),
      holdsCaughtUp: () => holds.caughtUp(),
    });
    const replay = createReplayHandler({
      dataSource,
      bound,
      topics,
      logger,
      metrics,
      journalKey,
      policyHash: manifest.policyHash,
      onResultQueued: () => relay.wake(),
      afterCommit: flushFiles,
      holdsCaughtUp: () => holds.caughtUp(),
    });
    const handle = createCommandHandler({
      dataSource,
      bound,
      topics,
      logger,
      metrics,
      onAckQueued: () => relay.wake(),
      holdsCaughtUp: () => holds.caughtUp(),
      afterCommit: flushFiles,
      // An erasure deletes its own files before it acks (complete means the files are gone too).
      ...(bound.filesRoot && queuesFiles ? { deleteRequestFiles: (requestId: string) => deleteRequestFiles(dataSource, bound.filesRoot!, requestId) } : {}),
      policyHash: manifest.policyHash,
      journalKey,
      maxClockSkewMs: config.RETENTION_MAX_CLOCK_SKEW_SECONDS * 1000,
      retry: { attempts: config.RETENTION_RETRY_ATTEMPTS, maxMs: config.RETENTION_RETRY_MAX_SECONDS * 1000, backoffMs: config.RETENTION_RETRY_BACKOFF_MS },
      lockWait: { maxMs: config.RETENTION_LOCK_WAIT_SECONDS * 1000, maxDelayMs: config.RETENTION_LOCK_BACKOFF_MAX_MS },
    });
    const commands: RunningConsumer = await runConsumer({
      kafka,
      groupId: commandGroup,
      topics: [topics.commands],
      verify: (message, headers) => verifyMessage(coordinatorKeys, message, headers, { ...skew, maxAgeMs: config.RETENTION_MESSAGE_MAX_AGE_SECONDS * 1000 }),
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      accept: [EventTypes.erasureRequested, EventTypes.sweepRequested, EventTypes.probeRequested, EventTypes.replayRequested],
      name: service,
      logger,
      partitionsConsumedConcurrently: config.RETENTION_CONCURRENCY,
      deadLetters: { topic: topics.dlq, publisher, counter: deadLetterCounter },
      handle: async (event, ctx) => {
        if (event.type === EventTypes.replayRequested) {
          const result = await replay(event.data);
          metrics.commandsTotal.inc({ kind: 'replay', outcome: result === 'ignored' ? 'ignored' : 'completed' });
          return;
        }
        if (event.type === EventTypes.probeRequested) {
          const result = await probe(event.data);
          metrics.commandsTotal.inc({ kind: 'probe', outcome: result === 'ignored' ? 'ignored' : 'completed' });
          return;
        }
        const kind = event.type === EventTypes.erasureRequested ? 'erasure' : 'sweep';
        const outcome =
          event.type === EventTypes.erasureRequested
            ? await handle({ kind: 'erasure', commandId: event.id, data: await commandKeys.openErasure(event.data) }, ctx)
            : await handle({ kind: 'sweep', commandId: event.id, data: event.data }, ctx);
        metrics.commandsTotal.inc({ kind, outcome });
      },
    });
    stops.push(() => commands.stop());
    registerOldestUnprocessedGauge(registry, { dataSource, bound, logger });
    if (queuesFiles) registerFileDeletionGauges(registry, { dataSource, logger });
    const lag = registerConsumerLagGauge(registry, kafka, [{ groupId: commandGroup, topic: topics.commands }]);
    stops.push(() => lag.close());

    const ops = await startOpsServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      registry,
      readiness: databaseReadiness(dataSource),
      metrics: config.METRICS_PORT === undefined,
    });
    stops.push(() => ops.close());
    const metricsServer =
      config.METRICS_PORT === undefined
        ? undefined
        : await startOpsServer({ host: config.METRICS_HOST, port: config.METRICS_PORT, registry, readiness: databaseReadiness(dataSource) });
    if (metricsServer) stops.push(() => metricsServer.close());
    stops.unshift(() => telemetry.shutdown());
    logger.info(
      { url: ops.url, instanceId, policies: definition.policies.rules.map((r) => r.name), policyHash: manifest.policyHash },
      'retention service started',
    );

    return { service, dataSource, bound, registry, url: ops.url, metricsUrl: metricsServer?.url, logger, stop: stopAll };
  } catch (error) {
    await stopAll();
    await telemetry.shutdown();
    throw error;
  }
}

import { randomUUID } from 'node:crypto';
import { EventTypes, topicNames } from '@retention/contracts';
import { createDataSource, ensureDatabase, openDatabase, TypeOrmPinoLogger } from '@retention/database';
import { createCatchUpTracker, createKafka, createPublisher, ensureTopics, runConsumer } from '@retention/kafka';
import { Counter, createLogger, createMetricsRegistry, type Logger, type Registry, registerOpsRoutes, startTelemetry } from '@retention/observability';
import { OutboxMessage, outboxMigrations, OutboxRelay } from '@retention/outbox';
import Fastify from 'fastify';
import type { DataSource } from 'typeorm';
import { createAckReceivedHandler } from './acks/ack-received.handler';
import type { CoordinatorConfig } from './config';
import { createAuthenticator } from './http/auth';
import { registerErasureRequestRoutes } from './http/erasure-requests.routes';
import { registerErrorHandler } from './http/errors';
import { coordinatorMigrations } from './migrations/1763800001000-coordinator-initial';
import { upsertService } from './registry/registry.repository';
import { createErasureRequestUseCase } from './requests/create-erasure-request.use-case';

export interface RunningCoordinator {
  url: string;
  dataSource: DataSource;
  registry: Registry;
  logger: Logger;
  stop(): Promise<void>;
}

/** The coordinator's composition root: every part is built here from plain constructors. */
export async function startCoordinator(config: CoordinatorConfig, options: { logger?: Logger; registry?: Registry } = {}): Promise<RunningCoordinator> {
  const logger = options.logger ?? createLogger({ service: 'coordinator', level: config.LOG_LEVEL });
  const registry = options.registry ?? createMetricsRegistry('coordinator');
  const telemetry = startTelemetry({ service: 'coordinator', otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const topics = topicNames(config.RETENTION_TOPIC_PREFIX);
  const instanceId = config.INSTANCE_ID ?? randomUUID().slice(0, 8);
  const stops: Array<() => Promise<void>> = [() => telemetry.shutdown()];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((error: unknown) => logger.error({ err: String(error) }, 'error during shutdown'));
  };

  try {
    if (config.DATABASE_AUTO_CREATE) await ensureDatabase(config.DATABASE_URL);
    const dataSource = createDataSource({
      url: config.DATABASE_URL,
      entities: [OutboxMessage],
      migrations: [...outboxMigrations, ...coordinatorMigrations],
      logger: new TypeOrmPinoLogger(logger),
      applicationName: 'retention-coordinator',
    });
    await openDatabase(dataSource);
    stops.push(() => dataSource.destroy());

    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'retention-coordinator', logger });
    await ensureTopics(kafka, topics);
    const publisher = await createPublisher(kafka);
    stops.push(() => publisher.disconnect());
    const relay = new OutboxRelay({ dataSource, publisher, logger });
    relay.start();
    stops.push(() => relay.stop());

    const acksTotal = new Counter({ name: 'retention_acks_total', help: 'Acknowledgements received, by outcome of reconciliation', labelNames: ['outcome'] as const, registers: [registry] });

    // The registry is read whole by every replica (a group of its own), so each can tell when it
    // knows every service registered so far; requests are accepted only then.
    const registryTracker = await createCatchUpTracker(kafka, topics.registry);
    stops.push(() => registryTracker.close());
    const registryConsumer = await runConsumer({
      kafka,
      groupId: `retention.coordinator.registry.${instanceId}`,
      topics: [topics.registry],
      accept: [EventTypes.serviceRegistered],
      name: 'coordinator.registry',
      logger,
      deadLetters: { topic: topics.dlq, publisher },
      handle: async (event) => {
        await upsertService(dataSource.manager, event.data);
        logger.info({ registered: event.data.service, version: event.data.version, policyHash: event.data.policyHash }, 'service registered');
      },
      onProcessed: (ctx) => registryTracker.markApplied(ctx.partition, ctx.offset),
    });
    stops.push(() => registryConsumer.stop());

    const ackReceived = createAckReceivedHandler({ dataSource });
    const ackConsumer = await runConsumer({
      kafka,
      groupId: 'retention.coordinator.acks',
      topics: [topics.acks],
      accept: [EventTypes.ack],
      name: 'coordinator.acks',
      logger,
      deadLetters: { topic: topics.dlq, publisher },
      handle: async (event) => {
        const outcome = await ackReceived(event.data);
        acksTotal.inc({ outcome });
        const fields = { requestId: event.data.requestId, ackFrom: event.data.service, status: event.data.status, outcome };
        if (outcome === 'applied' || outcome === 'duplicate') logger.info(fields, 'ack reconciled');
        else logger.warn(fields, 'ack does not match any open target');
      },
    });
    stops.push(() => ackConsumer.stop());

    await registryTracker.caughtUp(60_000);

    const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
    registerErrorHandler(app, logger);
    registerOpsRoutes(app, {
      registry,
      readiness: async () => {
        try {
          await dataSource.query('SELECT 1');
          return null;
        } catch {
          return 'database unreachable';
        }
      },
    });
    const authenticate = createAuthenticator(config.RETENTION_API_TOKENS);
    const createErasureRequest = createErasureRequestUseCase({
      dataSource,
      topics,
      hmacKey: config.RETENTION_SUBJECT_HMAC_KEY,
      deadlineDays: config.ERASURE_DEADLINE_DAYS,
      onQueued: () => relay.wake(),
    });
    registerErasureRequestRoutes(app, { authenticate, createErasureRequest, dataSource });
    const url = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    stops.push(() => app.close());
    logger.info({ url, instanceId }, 'coordinator started');
    return { url, dataSource, registry, logger, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

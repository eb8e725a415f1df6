import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type Ack,
  type Envelope,
  errorSummary,
  EventTypes,
  parseKek,
  type ProbeResult,
  type ReplayResult,
  serviceCommandGroup,
  SignatureError,
  topicNames,
  TransientError,
} from '@retention/contracts';
import { signingKeyOf } from '@retention/config';
import { databaseReadiness } from '@retention/database';
import {
  knownGroupLag,
  createCatchUpTracker,
  createKafka,
  createPublisher,
  ensureTopics,
  kafkaSecurityFromConfig,
  topicOptionsOf,
  type MessageContext,
  registerConsumerLagGauge,
  runConsumer,
} from '@retention/kafka';
import {
  createLogger,
  createMetricsCache,
  createMetricsRegistry,
  inSpan,
  type Logger,
  type Registry,
  registerOpsRoutes,
  SpanKind,
  startOpsServer,
  startTelemetry,
} from '@retention/observability';
import { OutboxRelay } from '@retention/outbox';
import Fastify from 'fastify';
import type { DataSource } from 'typeorm';
import { type AckResult, createAckReceivedHandler } from './acks/ack-received.handler';
import type { CoordinatorConfig } from './config';
import { openCoordinatorDatabase } from './database';
import { createLegalHoldsService } from './holds/legal-holds.service';
import { createAuthenticator } from './http/auth';
import { registerErrorHandler } from './http/errors';
import { httpServerOptions } from './http/server-options';
import { registerAuditorPage } from './auditor-page/auditor-page';
import { collectRoutes, registerRoutes, type ServedRoute, withOpenApiRoute } from './http/route';
import { buildRoutes } from './http/routes';
import { LeaderLock } from './maintenance/leader-lock';
import { MaintenanceLoop } from './maintenance/maintenance-loop';
import { flagOverdue, redeliverDue } from './maintenance/redelivery';
import { createCoordinatorPrivacy } from './privacy/coordinator-privacy';
import { runPrivacyMaintenance, sealLegacySubjectIds } from './privacy/privacy-maintenance';
import { scheduleDueSweeps } from './maintenance/sweep-scheduler';
import { createCoordinatorMetrics } from './metrics';
import { detectRestore } from './probes/detect-restore';
import { issueDueProbes } from './probes/issue-probes';
import { createProbeMetrics } from './probes/probe-metrics';
import { createProbeResultHandler } from './probes/probe-result.handler';
import { createReplayResultHandler } from './probes/replay-result.handler';
import type { CheckpointOutcome } from './ledger/checkpoint-publisher';
import { startLedgerService } from './ledger/ledger-service';
import { activeServiceGroups, recordRegistration, retireService } from './registry/registry.repository';
import { createServiceKeyring } from './registry/service-keys';
import { createErasureRequestUseCase } from './requests/create-erasure-request.use-case';
import { releaseScheduled } from './requests/release-scheduled';
import { resumeHeld, resumeHeldTargets } from './requests/resume-held';
import { type DeliverExternalDeps, deliverExternalTargets, type DeliveryTally } from './targets/deliver-external';
import { targetRoutes } from './targets/targets.routes';
import { requestSweepUseCase } from './sweeps/request-sweep.use-case';
import { approvalExecutors } from './approvals/approval-executors';
import { approvalRoutes } from './approvals/approvals.routes';
import { createApprovalsService } from './approvals/approvals.service';
import { gatedHoldRelease, gatedSweep } from './approvals/gates';
import { bulkErasureRoutes } from './requests/bulk-erasure.routes';
import { bulkErasureUseCase } from './requests/bulk-erasure.use-case';

export const VERSION = '0.1.0';

export interface RunningCoordinator {
  url: string;
  dataSource: DataSource;
  registry: Registry;
  logger: Logger;
  /** `/metrics` (with /healthz, /readyz) on METRICS_PORT when set; else undefined (it is on `url`). */
  metricsUrl?: string;
  /** Every HTTP route the server serves (tests check each against the role matrix). */
  httpRoutes: readonly ServedRoute[];
  /** Runs one maintenance tick now if this replica is the leader (tests). */
  maintain(): Promise<boolean>;
  /** Signs and publishes a ledger checkpoint now, if the ledger grew (tests; the leader does it every LEDGER_CHECKPOINT_INTERVAL_SECONDS). */
  checkpoint(): Promise<CheckpointOutcome>;
  stop(): Promise<void>;
}

/** The coordinator's composition root: every part is built here from plain constructors. */
export async function startCoordinator(
  config: CoordinatorConfig,
  options: { logger?: Logger; registry?: Registry; now?: () => Date } = {},
): Promise<RunningCoordinator> {
  const logger = options.logger ?? createLogger({ service: 'coordinator', level: config.LOG_LEVEL });
  const registry = options.registry ?? createMetricsRegistry('coordinator');
  const now = options.now ?? (() => new Date());
  const telemetry = startTelemetry({ service: 'coordinator', version: VERSION, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const topics = topicNames(config.RETENTION_TOPIC_PREFIX);
  const instanceId = config.INSTANCE_ID ?? randomUUID().slice(0, 8);
  const stops: Array<() => Promise<void>> = [() => telemetry.shutdown()];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((error: unknown) => logger.error({ err: errorSummary(error) }, 'error during shutdown'));
  };

  try {
    const dataSource = await openCoordinatorDatabase(config, logger);
    stops.push(() => dataSource.destroy());
    // The gauges that query the database are computed on this interval, never per scrape.
    const metricsCache = createMetricsCache(registry, { intervalMs: config.METRICS_REFRESH_SECONDS * 1000, logger });
    const metrics = createCoordinatorMetrics(registry, dataSource, metricsCache);

    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID ?? 'retention-coordinator',
      logger,
      security: kafkaSecurityFromConfig(config),
    });
    await ensureTopics(kafka, topics, undefined, topicOptionsOf(config));
    // Every command and hold event (and release) carries the coordinator's signature; services apply
    // nothing else. Acks and registrations are checked against the services' keys.
    const publisher = await createPublisher(kafka, { signer: signingKeyOf(config) });
    const keyring = createServiceKeyring({ dataSource, configured: config.RETENTION_SERVICE_PUBLIC_KEYS ?? [] });
    await keyring.reload();
    const skewMs = config.RETENTION_MAX_CLOCK_SKEW_SECONDS * 1000;
    stops.push(() => publisher.disconnect());
    const relay = new OutboxRelay({ dataSource, publisher, logger, registry, metricsCache });
    relay.start();
    stops.push(() => relay.stop());

    // The registry is read whole by every replica (a group of its own), so each can tell when it
    // knows every service registered so far; requests are accepted only then.
    const registryTracker = await createCatchUpTracker(kafka, topics.registry);
    stops.push(() => registryTracker.close());
    const registryConsumer = await runConsumer({
      kafka,
      groupId: `${config.RETENTION_TOPIC_PREFIX}retention.coordinator.registry.${instanceId}`,
      topics: [topics.registry],
      accept: [EventTypes.serviceRegistered],
      name: 'coordinator.registry',
      logger,
      deadLetters: { topic: topics.dlq, publisher, counter: metrics.deadLetters },
      // Registrations are compacted state (no age limit); who may register is decided below.
      verify: (message, headers) => keyring.verifyRegistration(message, headers, { maxSkewMs: skewMs }),
      handle: async (event, ctx) => {
        const manifest = event.data;
        if (manifest.service !== ctx.key) throw new SignatureError('signer_mismatch', `registration of "${manifest.service}" is keyed "${ctx.key ?? ''}"`);
        if (!manifest.signingKey || manifest.signingKey.keyId !== ctx.signer?.keyId) {
          throw new SignatureError('signer_mismatch', 'a registration must present the key it is signed with (data.signingKey)');
        }
        const trust = keyring.isTrusted(manifest.service, manifest.signingKey) ? 'trusted' : 'self_asserted';
        const outcome = await dataSource.transaction((manager) =>
          recordRegistration(manager, manifest, trust, now(), { autoEnablePolicies: config.POLICIES_AUTO_ENABLE }),
        );
        if (outcome === 'registered' || outcome === 'updated') await keyring.reload();
        // A journal shorter than what this service acked: its database was restored from a backup.
        if (trust === 'trusted') {
          const replay = await detectRestore(dataSource, topics, manifest, now());
          if (replay) {
            relay.wake();
            logger.warn(
              { target: manifest.service, journalEntries: manifest.journal?.entries, requests: replay.requests, withoutHash: replay.withoutHash },
              'restore detected: the deletion journal lacks erasures this service acked; replaying them',
            );
          }
        }
        const fields = { registered: manifest.service, version: manifest.version, policyHash: manifest.policyHash, keyId: manifest.signingKey.keyId, outcome };
        if (trust === 'trusted') logger.info(fields, 'service registered');
        else logger.warn(fields, 'service registration waits for an admin approval (POST /v1/services/{name}/approve)');
      },
      // A registration tombstone retires the service; only a key trusted for it can sign one.
      onTombstone: async (ctx) => {
        if (!ctx.key || ctx.signer?.owner !== ctx.key)
          throw new SignatureError('signer_mismatch', 'a registration tombstone must be signed by the service it retires');
        await retireService(dataSource, ctx.key, { by: `service:${ctx.key}`, reason: 'registration tombstone' }, now()).catch((error: unknown) => {
          // Already retired, or never registered here: nothing to close.
          if (!(error instanceof Error && ['not_found', 'conflict'].includes((error as { code?: string }).code ?? ''))) throw error;
        });
        await keyring.reload();
        logger.info({ retired: ctx.key }, 'service retired by its registration tombstone');
      },
      onProcessed: (ctx) => registryTracker.markApplied(ctx.partition, ctx.offset),
    });
    stops.push(() => registryConsumer.stop());

    const acks = createAckReceivedHandler({ dataSource, now });
    // Answers to deletion probes arrive on the ack topic too (probe.result, keyed by probe id).
    const probeAnswered = createProbeResultHandler({ dataSource, metrics: createProbeMetrics(registry), now });
    const answerProbe = async (result: ProbeResult, ctx: MessageContext): Promise<void> => {
      if (result.service !== ctx.signer?.owner)
        throw new SignatureError('signer_mismatch', `probe result for service "${result.service}" is signed by a key of "${ctx.signer?.owner ?? 'nobody'}"`);
      const { outcome, found } = await probeAnswered(result);
      const fields = { probeId: result.probeId, probeFrom: result.service, items: result.items.length, found, outcome };
      if (outcome === 'unknown_probe') {
        logger.warn(fields, 'probe result rejected');
        await ctx.deadLetter({ code: 'unknown_probe', message: 'no probe with this id was sent to this service' });
      } else if (found > 0) logger.error(fields, 'deletion probe found data of erased subjects');
      else logger.info(fields, 'deletion probe result recorded');
    };
    const reported = async (ack: Ack, result: AckResult, ctx: MessageContext): Promise<void> => {
      metrics.acksTotal.inc({ outcome: result.outcome });
      if (result.latencySeconds !== undefined && result.kind) metrics.ackLatency.observe({ kind: result.kind }, result.latencySeconds);
      const fields = { requestId: ack.requestId, ackFrom: ack.service, status: ack.status, outcome: result.outcome };
      if (result.outcome === 'applied' || result.outcome === 'duplicate') return logger.info(fields, 'ack reconciled');
      // Parses but is wrong: it changed nothing; count it and keep it in the dead-letter topic.
      metrics.acksRejected.inc({ reason: result.outcome });
      logger.warn(fields, 'ack rejected');
      await ctx.deadLetter({ code: result.outcome, message: result.detail ?? result.outcome });
    };
    // Answers to replays after a restore (replay.result, keyed by replay id), also on the ack topic.
    const replayAnswered = createReplayResultHandler({ dataSource, now });
    const answerReplay = async (result: ReplayResult, ctx: MessageContext): Promise<void> => {
      if (result.service !== ctx.signer?.owner)
        throw new SignatureError('signer_mismatch', `replay result for service "${result.service}" is signed by a key of "${ctx.signer?.owner ?? 'nobody'}"`);
      const outcome = await replayAnswered(result);
      const fields = { replayId: result.replayId, replayFrom: result.service, items: result.items.length, outcome };
      if (outcome === 'unknown_replay') {
        logger.warn(fields, 'replay result rejected');
        await ctx.deadLetter({ code: 'unknown_replay', message: 'no replay with this id was sent to this service' });
      } else logger.info(fields, 'replay result recorded');
    };
    const ackConsumer = await runConsumer({
      kafka,
      groupId: `${config.RETENTION_TOPIC_PREFIX}retention.coordinator.acks`,
      topics: [topics.acks],
      accept: [EventTypes.ack, EventTypes.probeResult, EventTypes.replayResult],
      name: 'coordinator.acks',
      logger,
      deadLetters: { topic: topics.dlq, publisher, counter: metrics.deadLetters },
      verify: (message, headers) =>
        keyring.verifyServiceMessage(message, headers, { maxSkewMs: skewMs, maxAgeMs: config.RETENTION_MESSAGE_MAX_AGE_SECONDS * 1000 }),
      handle: async (event, ctx) => {
        if (event.type === EventTypes.probeResult) return answerProbe(event.data, ctx);
        if (event.type === EventTypes.replayResult) return answerReplay(event.data, ctx);
        assertSignedByService(event.data, ctx.signer?.owner);
        await reported(event.data, await acks.one(event.data), ctx);
      },
      // The acks fetched together are reconciled in one transaction; each keeps a span in its trace.
      handleBatch: async (fetched) => {
        for (const { event, ctx } of fetched) {
          if (event.type === EventTypes.probeResult) await answerProbe(event.data, ctx);
          else if (event.type === EventTypes.replayResult) await answerReplay(event.data, ctx);
        }
        const items = fetched.filter((i): i is { event: Envelope<typeof EventTypes.ack>; ctx: MessageContext } => i.event.type === EventTypes.ack);
        if (items.length === 0) return;
        // An ack signed by another service's key: the run is handled one by one, where it is dead-lettered.
        for (const { event, ctx } of items) assertSignedByService(event.data, ctx.signer?.owner);
        const results = await acks.many(
          items.map((i) => i.event.data),
          (i, work) =>
            inSpan(
              `${items[i]!.ctx.topic} process`,
              { kind: SpanKind.CONSUMER, parent: items[i]!.ctx.trace, attributes: { 'messaging.system': 'kafka', 'retention.event_type': EventTypes.ack } },
              work,
            ),
        );
        for (const [i, result] of results.entries()) await reported(items[i]!.event.data, result, items[i]!.ctx);
      },
    });
    stops.push(() => ackConsumer.stop());
    // Signed checkpoints of the ledger, on their topic (outside this database) and kept here too.
    const ledger = await startLedgerService({
      dataSource,
      kafka,
      topic: topics.checkpoints,
      groupId: `${config.RETENTION_TOPIC_PREFIX}retention.coordinator.checkpoints.${instanceId}`,
      key: signingKeyOf(config),
      previousKeys: config.RETENTION_CHECKPOINT_PUBLIC_KEYS ?? [],
      publisher,
      deadLetters: { topic: topics.dlq, counter: metrics.deadLetters },
      maxSkewMs: skewMs,
      logger,
      registry,
      metricsCache,
      now,
    });
    stops.push(() => ledger.stop());

    const lag = registerConsumerLagGauge(registry, kafka, [{ groupId: `${config.RETENTION_TOPIC_PREFIX}retention.coordinator.acks`, topic: topics.acks }]);
    stops.push(() => lag.close());

    // Subject ids sealed at rest and in every message, command keys rotated and destroyed, reasons by HMAC.
    const privacy = createCoordinatorPrivacy({
      topics,
      kek: parseKek(config.RETENTION_COMMAND_KEK),
      hmacKey: config.RETENTION_SUBJECT_HMAC_KEY,
      rotationMs: config.RETENTION_COMMAND_KEY_ROTATION_SECONDS * 1000,
      lifetimeMs: config.RETENTION_COMMAND_KEY_LIFETIME_SECONDS * 1000,
      subjectMaxAgeMs: config.RETENTION_SUBJECT_ID_MAX_AGE_SECONDS * 1000,
    });
    const legacySealed = await sealLegacySubjectIds(dataSource, privacy);
    if (legacySealed > 0) logger.info({ sealed: legacySealed }, 'subject ids stored in clear by an earlier version sealed');
    const requestDeps = {
      dataSource,
      topics,
      hmacKey: config.RETENTION_SUBJECT_HMAC_KEY,
      privacy,
      deadlineDays: config.ERASURE_DEADLINE_DAYS,
      retryBaseSeconds: config.RETRY_BASE_SECONDS,
      graceSeconds: config.RETENTION_ERASURE_GRACE_SECONDS,
      // Never as long as the subject id age limit (counted from creation): it would be forgotten before it is sent.
      maxGraceSeconds: Math.min(config.RETENTION_ERASURE_MAX_GRACE_SECONDS, config.RETENTION_SUBJECT_ID_MAX_AGE_SECONDS - 1),
      onQueued: () => relay.wake(),
      now,
    };
    const createErasureRequest = createErasureRequestUseCase(requestDeps);
    const sweeps = requestSweepUseCase({ ...requestDeps, sweepDeadlineHours: config.SWEEP_DEADLINE_HOURS });
    const resumeOptions = { retryBaseSeconds: config.RETRY_BASE_SECONDS, privacy };
    const holds = createLegalHoldsService({
      dataSource,
      topics,
      hmacKey: config.RETENTION_SUBJECT_HMAC_KEY,
      privacy,
      onQueued: () => relay.wake(),
      // A release resumes, in its own transaction, the held erasures it was the last hold of.
      onReleased: (manager, at) => resumeHeldTargets(manager, topics, at, resumeOptions),
      now,
    });
    // Four eyes: actions a rule holds back wait for a second admin (approvals/); bulk erasures.
    const approvalSettings = { rules: config.RETENTION_APPROVALS, bulkThreshold: config.RETENTION_APPROVAL_BULK_THRESHOLD };
    const approvals = createApprovalsService({
      dataSource,
      privacy,
      onQueued: () => relay.wake(),
      now,
      executors: approvalExecutors({ requestDeps, issueSweep: sweeps.issueSweep, holds }),
    });
    const submitBulk = bulkErasureUseCase({ ...requestDeps, approvals, settings: approvalSettings, maxBacklog: config.RETENTION_BULK_MAX_BACKLOG });

    // Which services have not consumed their command topic to the end (their registration names
    // their group; the SDK's naming otherwise). Unknown (broker unreachable, or a group that never
    // committed: a service not built on the SDK that named none) counts as not behind, so redelivery
    // falls back to its backoff instead of waiting forever.
    const lagAdmin = kafka.admin();
    await lagAdmin.connect();
    stops.push(() => lagAdmin.disconnect());
    const servicesBehind = async (): Promise<string[]> => {
      const services = await activeServiceGroups(dataSource);
      const lags = await Promise.all(
        services.map(({ service, group }) =>
          knownGroupLag(lagAdmin, group ?? serviceCommandGroup(config.RETENTION_TOPIC_PREFIX, service), topics.commands).catch(() => undefined),
        ),
      );
      return services.filter((_, i) => (lags[i] ?? 0) > 0).map((s) => s.service);
    };

    const urlRules = { allowHttpLoopback: config.RETENTION_WEBHOOK_ALLOW_HTTP_LOOPBACK };
    // Set once the API listens (HTTP_PORT may be 0): the callback URL webhooks are told.
    let listeningUrl = '';
    const webhookCa = config.RETENTION_WEBHOOK_CA_FILE ? await readFile(config.RETENTION_WEBHOOK_CA_FILE, 'utf8') : undefined;
    const external: DeliverExternalDeps = {
      dataSource,
      vault: privacy.vault,
      applyAck: (manager, ack, before) => acks.within(manager, ack, before),
      publicUrl: () => config.RETENTION_PUBLIC_URL ?? listeningUrl,
      timeoutMs: config.RETENTION_WEBHOOK_TIMEOUT_SECONDS * 1000,
      resendMs: config.RETENTION_WEBHOOK_RESEND_SECONDS * 1000,
      retry: { baseSeconds: config.RETRY_BASE_SECONDS, maxSeconds: config.RETRY_MAX_SECONDS, maxAttempts: config.RETRY_MAX_ATTEMPTS },
      ...(webhookCa ? { ca: webhookCa } : {}),
      logger,
    };
    const leader = new LeaderLock(dataSource);
    const maintenance = new MaintenanceLoop(
      leader,
      async () => {
        const at = now();
        // Each step on its own: one that fails (a row it cannot read, say) is logged and counted by
        // step, and the others still run; the loop logs the tick as failed once all have run.
        const failures: string[] = [];
        const step = async <T>(name: string, work: () => Promise<T>, fallback: T): Promise<T> => {
          try {
            return await work();
          } catch (error) {
            failures.push(name);
            logger.error({ step: name, err: errorSummary(error) }, 'maintenance step failed');
            return fallback;
          }
        };
        const behind = await step('lag', servicesBehind, [] as string[]);
        // Erasures whose grace period ended: sent now (once: the status change is in the same transaction).
        const released = await step('release', () => releaseScheduled(dataSource, topics, at, { retryBaseSeconds: config.RETRY_BASE_SECONDS, privacy }), 0);
        const redelivered = await step(
          'redelivery',
          () =>
            redeliverDue(
              dataSource,
              topics,
              { baseSeconds: config.RETRY_BASE_SECONDS, maxSeconds: config.RETRY_MAX_SECONDS, maxAttempts: config.RETRY_MAX_ATTEMPTS, privacy },
              at,
              behind,
            ),
          0,
        );
        // Webhook deliveries and manual tasks (after redelivery, so a resumed target is sent in this tick).
        const delivered = await step('external', () => deliverExternalTargets(external, at), {
          delivered: 0,
          answered: 0,
          failed: 0,
          held: 0,
          tasksOpened: 0,
        } as DeliveryTally);
        if (delivered.delivered || delivered.answered || delivered.failed || delivered.held || delivered.tasksOpened || delivered.holdNotices)
          logger.info(delivered, 'external targets');
        const overdue = await step('overdue', () => flagOverdue(dataSource, at), 0);
        const forgot = await step('privacy', () => runPrivacyMaintenance(dataSource, privacy, at), {
          keysDestroyed: 0,
          keysRepublished: 0,
          holdsResealed: 0,
          holdsExpired: 0,
          subjectsForgotten: 0,
        } as Awaited<ReturnType<typeof runPrivacyMaintenance>>);
        if (forgot.keysDestroyed || forgot.holdsExpired || forgot.subjectsForgotten) logger.info(forgot, 'privacy maintenance');
        // Holds that expired (a release resumes its erasures itself; this also catches any it missed).
        const resumed = await step('resume', () => resumeHeld(dataSource, topics, at, resumeOptions), 0);
        // Pending approvals expire as open requests forget their subject: their sealed ids are deleted.
        const expired = await step('approvals', () => approvals.expire(new Date(at.getTime() - privacy.subjectMaxAgeMs), at), 0);
        if (expired) logger.info({ expired }, 'pending approvals expired');
        // Deletion probes: every target of an erasure that just completed, and a random sample of older ones.
        const probes = await step(
          'probes',
          () =>
            issueDueProbes(
              dataSource,
              topics,
              {
                afterCompletion: config.RETENTION_PROBE_AFTER_COMPLETION,
                sample: config.RETENTION_PROBE_SAMPLE,
                intervalMs: config.RETENTION_PROBE_INTERVAL_SECONDS * 1000,
              },
              at,
            ),
          { completion: 0, sample: 0 },
        );
        if (probes.completion || probes.sample) {
          relay.wake();
          logger.info({ probes }, 'deletion probes sent');
        }
        const scheduled = await step(
          'schedule',
          () =>
            scheduleDueSweeps(
              { dataSource, issueSweep: sweeps.issueSweep, logger },
              {
                defaultSchedule: config.SWEEP_DEFAULT_SCHEDULE,
                misfireGraceSeconds: config.SWEEP_MISFIRE_GRACE_SECONDS,
                firstRunNeedsApproval: config.RETENTION_APPROVALS.has('sweep-first-run'),
              },
              at,
            ),
          0,
        );
        if (redelivered) metrics.redeliveries.inc(redelivered);
        if (scheduled) metrics.sweepsScheduled.inc(scheduled);
        if (released) metrics.erasuresReleased.inc(released);
        if (
          released ||
          redelivered ||
          overdue ||
          scheduled ||
          resumed ||
          forgot.keysDestroyed ||
          forgot.keysRepublished ||
          forgot.holdsResealed ||
          forgot.holdsExpired
        ) {
          relay.wake();
          logger.info({ released, redelivered, overdue, scheduled, resumed }, 'maintenance');
        }
        if (failures.length > 0) throw new TransientError(`maintenance steps failed: ${failures.join(', ')}`);
      },
      config.MAINTENANCE_INTERVAL_MS,
      logger,
    );
    // The leader signs a checkpoint on its own schedule (an outcome other than published or
    // unchanged is logged and counted by checkpointNow).
    const checkpoints = new MaintenanceLoop(leader, async () => void (await ledger.checkpointNow()), config.LEDGER_CHECKPOINT_INTERVAL_SECONDS * 1000, logger);
    // And verifies the whole ledger now and then (problems are logged and in retention_ledger_verify_problems).
    const fullVerification = new MaintenanceLoop(
      leader,
      async () => void (await ledger.verify({ full: true })),
      config.LEDGER_FULL_VERIFY_INTERVAL_HOURS * 3_600_000,
      logger,
    );

    await registryTracker.caughtUp(60_000);

    const app = Fastify(
      httpServerOptions({ requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS, handlerTimeoutMs: config.HTTP_HANDLER_TIMEOUT_MS, bodyLimitBytes: 64 * 1024 }),
    );
    const httpRoutes = collectRoutes(app);
    registerErrorHandler(app, logger);
    registerOpsRoutes(app, {
      registry,
      readiness: databaseReadiness(dataSource),
      metrics: config.METRICS_PORT === undefined,
    });
    registerAuditorPage(app);
    const routes = buildRoutes({
      dataSource,
      replay: { dataSource, topics, onQueued: () => relay.wake(), now },
      hmacKey: config.RETENTION_SUBJECT_HMAC_KEY,
      createErasureRequest,
      requestSweep: gatedSweep(sweeps.requestSweep, approvals, approvalSettings),
      holds,
      releaseHold: gatedHoldRelease(dataSource, holds, approvals, approvalSettings),
      onRetry: () => void maintenance.runOnce().catch(() => undefined),
      onServicesChanged: () => keyring.reload(),
      ledger,
      now,
    });
    // Four eyes (approvals) and bulk erasures: routes of their own.
    routes.push(...approvalRoutes({ approvals }), ...bulkErasureRoutes({ submitBulk }));
    // Targets that are not Kafka consumers: webhooks and manual tasks.
    routes.push(
      ...targetRoutes({
        dataSource,
        vault: privacy.vault,
        acks,
        textRef: (text) => privacy.reasonRef(text),
        urlRules,
        onChanged: () => void maintenance.runOnce().catch(() => undefined),
        now,
      }),
    );
    registerRoutes(app, withOpenApiRoute(routes, { title: 'Retention coordinator API', version: VERSION }), createAuthenticator(config.RETENTION_API_TOKENS));
    await metricsCache.refresh();
    metricsCache.start();
    stops.push(async () => metricsCache.stop());
    const url = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    listeningUrl = url;
    stops.push(() => app.close());
    // A port of its own for /metrics (METRICS_PORT): scrapers never reach the API port.
    const metricsServer =
      config.METRICS_PORT === undefined
        ? undefined
        : await startOpsServer({ host: config.METRICS_HOST, port: config.METRICS_PORT, registry, readiness: databaseReadiness(dataSource) });
    if (metricsServer) stops.push(() => metricsServer.close());
    maintenance.start();
    stops.push(() => maintenance.stop());
    checkpoints.start();
    stops.push(() => checkpoints.stop());
    fullVerification.start();
    stops.push(() => fullVerification.stop());
    logger.info({ url, metricsUrl: metricsServer?.url ?? `${url}/metrics`, instanceId }, 'coordinator started');
    return {
      url,
      metricsUrl: metricsServer?.url,
      dataSource,
      registry,
      logger,
      httpRoutes,
      maintain: () => maintenance.runOnce(),
      checkpoint: () => ledger.checkpointNow(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An ack counts only when the key that signed it belongs to the service it speaks for. */
function assertSignedByService(ack: Ack, signer: string | undefined): void {
  if (ack.service !== signer) throw new SignatureError('signer_mismatch', `ack for service "${ack.service}" is signed by a key of "${signer ?? 'nobody'}"`);
}

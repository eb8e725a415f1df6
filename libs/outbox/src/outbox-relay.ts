import { errorCode, errorSummary, isUnreachable } from '@retention/contracts';
import type { OutgoingMessage, Publisher } from '@retention/kafka';
import type { Logger, MetricsCache, Registry } from '@retention/observability';
import type { DataSource, EntityManager } from 'typeorm';
import { type OutboxRelayMetrics, registerOutboxRelayMetrics } from './outbox-metrics';

export interface OutboxRelayOptions {
  dataSource: DataSource;
  publisher: Publisher;
  logger: Logger;
  /** Rows published per transaction. */
  batchSize?: number;
  /** Poll interval when idle; {@link OutboxRelay.wake} publishes at once after a commit. */
  idleMs?: number;
  /** Called with the number of rows published (for metrics). */
  onPublished?: (count: number) => void;
  /** Failed publishes about one message (not "broker unreachable") before it is parked (default 5). */
  parkAfterAttempts?: number;
  /** Registers `retention_outbox_parked` and `retention_outbox_publish_failures_total` here. */
  registry?: Registry;
  /** Computes the outbox gauges on this cache's interval instead of at scrape time (the coordinator). */
  metricsCache?: MetricsCache;
}

interface Row {
  id: string;
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** What one pass did: messages published, and messages (or a broker) that failed. */
export interface RelayPass {
  published: number;
  failed: number;
}

/**
 * Rows the relay may take: not parked, and no parked row of the same topic and key before them
 * (order per key: a later message never overtakes a parked one).
 */
const CLAIMABLE = `o.parked_at IS NULL AND NOT EXISTS (
  SELECT 1 FROM retention_outbox p WHERE p.parked_at IS NOT NULL AND p.topic = o.topic AND p.key IS NOT DISTINCT FROM o.key AND p.id < o.id)`;

/** Refusals about a whole topic, not one message: every message to that topic fails the same way. */
const TOPIC_LEVEL = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION']);

/** A failure of `publish` itself (as opposed to the database around it). */
class PublishFailure extends Error {
  constructor(readonly error: unknown) {
    super('publish failed');
  }
}

/**
 * Publishes the outbox. Several replicas may run at once: each batch is claimed with
 * `FOR UPDATE SKIP LOCKED` and deleted, then published before the transaction commits, so a row is
 * gone only once the broker acknowledged it. A crash between publish and commit publishes the batch
 * again (at-least-once), which every consumer tolerates (idempotent handlers).
 *
 * A message the broker refuses (too large, unknown topic, not authorized) would fail every batch it
 * is in and hold up everything behind it. So when a batch fails for any reason other than an
 * unreachable broker, the relay publishes that batch one message at a time, counts a failed
 * attempt on the messages that fail (for a topic-level refusal: on every message of that topic),
 * and parks a message after `parkAfterAttempts` such failures. Later messages with the same topic
 * and key wait behind a failing or parked one, so order per key is kept; other keys flow. An
 * unreachable broker counts against no message: the relay backs off and tries again.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private resolvePause: (() => void) | undefined;
  private wakeable = true;
  private woken = false;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly parkAfter: number;
  private readonly metrics: OutboxRelayMetrics | undefined;
  private readonly log: Logger;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.idleMs = options.idleMs ?? 250;
    this.parkAfter = options.parkAfterAttempts ?? 5;
    this.log = options.logger.child({ component: 'outbox-relay' });
    this.metrics = options.registry
      ? registerOutboxRelayMetrics(options.registry, { dataSource: options.dataSource, logger: this.log, cache: options.metricsCache })
      : undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Publish now instead of at the next poll (ignored while backing off after a failure). */
  wake(): void {
    this.woken = true;
    if (this.wakeable) this.resolvePause?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.woken = true;
    this.resolvePause?.();
    await this.loop;
  }

  /** Publishes one batch; returns how many messages it published. */
  async relayOnce(): Promise<number> {
    return (await this.relayPass()).published;
  }

  /**
   * One pass: a batch published whole, or, when the broker refuses it, message by message with
   * failed attempts counted and parking. Throws when the broker cannot be reached (nothing counted).
   */
  async relayPass(): Promise<RelayPass> {
    try {
      return { published: await this.publishBatch(), failed: 0 };
    } catch (caught) {
      if (!(caught instanceof PublishFailure)) throw caught;
      const error = caught.error;
      this.metrics?.publishFailed(errorCode(error));
      if (isUnreachable(error)) throw error;
      this.log.warn({ err: errorSummary(error), code: errorCode(error) }, 'outbox batch refused; publishing it message by message');
      return this.publishOneByOne();
    }
  }

  private async publishBatch(): Promise<number> {
    return this.options.dataSource.transaction(async (manager) => {
      // Claimed and deleted in one statement; published before the commit, so a failed publish
      // rolls the delete back and the rows stay.
      const rows: Row[] = await manager.query(
        `WITH claimed AS (
           DELETE FROM retention_outbox WHERE id IN (SELECT o.id FROM retention_outbox o WHERE ${CLAIMABLE} ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, topic, key, value, headers)
         SELECT * FROM claimed ORDER BY id`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      try {
        await this.options.publisher.publish(rows.map(toMessage));
      } catch (error) {
        throw new PublishFailure(error);
      }
      return rows.length;
    });
  }

  private async publishOneByOne(): Promise<RelayPass> {
    return this.options.dataSource.transaction(async (manager) => {
      const rows: Row[] = await manager.query(
        `SELECT o.id, o.topic, o.key, o.value, o.headers FROM retention_outbox o WHERE ${CLAIMABLE} ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      const published: string[] = [];
      const failedKeys = new Set<string>();
      const refusedTopics = new Map<string, string>();
      let failed = 0;
      for (const row of rows) {
        const key = JSON.stringify([row.topic, row.key]);
        // Order per key: this message waits behind the one of its key that failed in this pass.
        if (failedKeys.has(key)) continue;
        let code = refusedTopics.get(row.topic);
        if (code === undefined) {
          try {
            await this.options.publisher.publish([toMessage(row)]);
            published.push(row.id);
            continue;
          } catch (error) {
            this.metrics?.publishFailed(errorCode(error));
            if (isUnreachable(error)) {
              // Says nothing about the messages: keep what went out, count nothing, back off.
              this.log.error({ err: errorSummary(error) }, 'broker unreachable; outbox publishing backs off');
              failed++;
              break;
            }
            code = errorCode(error);
            if (TOPIC_LEVEL.has(code)) refusedTopics.set(row.topic, code);
          }
        }
        failedKeys.add(key);
        failed++;
        await this.countFailure(manager, row, code);
      }
      if (published.length > 0) await manager.query(`DELETE FROM retention_outbox WHERE id = ANY($1::bigint[])`, [published]);
      return { published: published.length, failed };
    });
  }

  private async countFailure(manager: EntityManager, row: Row, code: string): Promise<void> {
    const [updated] = (await manager.query(
      `UPDATE retention_outbox SET attempts = attempts + 1, last_error = $2, last_attempt_at = now(),
         parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
       WHERE id = $1 RETURNING attempts, parked_at`,
      [row.id, code.slice(0, 64), this.parkAfter],
    )) as Array<{ attempts: number; parked_at: Date | null }>;
    // Never the key or value: keys can be subject hashes, values can hold subject ids.
    const fields = { outboxId: row.id, topic: row.topic, code, attempts: updated?.attempts };
    if (updated?.parked_at) this.log.error(fields, 'outbox message parked: the broker keeps refusing it (see docs/operations.md#retentionoutboxparked)');
    else this.log.warn(fields, 'outbox message refused by the broker; will retry');
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let published = 0;
      let failed = false;
      // A wake() while this batch is in flight means more rows were committed: go again at once.
      this.woken = false;
      try {
        const pass = await this.relayPass();
        published = pass.published;
        failed = pass.failed > 0;
        if (published > 0) this.options.onPublished?.(published);
      } catch (error) {
        failed = true;
        this.log.error({ err: errorSummary(error), failures: failures + 1 }, 'outbox publish failed; will retry');
      }
      failures = failed ? failures + 1 : 0;
      // A full batch may have left more behind; a short one emptied the outbox as it stood. After a
      // failure, back off (new commits do not cut the pause short: they would only fail faster).
      if (failures > 0) await this.pause(Math.min(10_000, this.idleMs * 2 ** failures), false);
      else if (published < this.batchSize) await this.pause(this.idleMs, true);
    }
  }

  private pause(ms: number, wakeable: boolean): Promise<void> {
    if (!this.running || (wakeable && this.woken)) return Promise.resolve();
    this.wakeable = wakeable;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.resolvePause = undefined;
        this.wakeable = true;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.resolvePause = done;
    });
  }
}

function toMessage(r: Row): OutgoingMessage {
  return { topic: r.topic, key: r.key, value: r.value, headers: r.headers };
}

import type { Publisher } from '@retention/kafka';
import { errorSummary } from '@retention/kafka';
import type { Logger } from '@retention/observability';
import type { DataSource } from 'typeorm';

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
}

interface Row {
  id: string;
  topic: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Publishes the outbox. Several replicas may run at once: each batch is claimed with
 * `FOR UPDATE SKIP LOCKED` and deleted, then published before the transaction commits, so a row is
 * gone only once the broker acknowledged it. A crash between publish and commit publishes the batch
 * again (at-least-once), which every consumer tolerates (idempotent handlers).
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private readonly batchSize: number;
  private readonly idleMs: number;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.idleMs = options.idleMs ?? 250;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Publish now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  /** Publishes one batch; returns how many messages it published. */
  async relayOnce(): Promise<number> {
    return this.options.dataSource.transaction(async (manager) => {
      // Claimed and deleted in one statement; published before the commit, so a failed publish
      // rolls the delete back and the rows stay.
      const rows: Row[] = await manager.query(
        `WITH claimed AS (
           DELETE FROM retention_outbox WHERE id IN (SELECT id FROM retention_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, topic, key, value, headers)
         SELECT * FROM claimed ORDER BY id`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      await this.options.publisher.publish(rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers })));
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    const log = this.options.logger.child({ component: 'outbox-relay' });
    let failures = 0;
    while (this.running) {
      let published = 0;
      // A wake() while this batch is in flight means more rows were committed: go again at once.
      this.woken = false;
      try {
        published = await this.relayOnce();
        failures = 0;
        if (published > 0) this.options.onPublished?.(published);
      } catch (error) {
        failures++;
        log.error({ err: errorSummary(error), failures }, 'outbox publish failed; will retry');
      }
      // A full batch may have left more behind; a short one emptied the outbox as it stood.
      if (published < this.batchSize || failures > 0) await this.pause(failures > 0 ? Math.min(10_000, this.idleMs * 2 ** failures) : this.idleMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}

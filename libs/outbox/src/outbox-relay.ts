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
 * `FOR UPDATE SKIP LOCKED`, published, then deleted in the same transaction, so a row is removed
 * only after the broker acknowledged it. A crash between publish and commit publishes the batch
 * again (at-least-once), which every consumer tolerates (idempotent handlers).
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
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
      const rows: Row[] = await manager.query(`SELECT id, topic, key, value, headers FROM retention_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, [
        this.batchSize,
      ]);
      if (rows.length === 0) return 0;
      await this.options.publisher.publish(rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers })));
      await manager.query(`DELETE FROM retention_outbox WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    const log = this.options.logger.child({ component: 'outbox-relay' });
    let failures = 0;
    while (this.running) {
      let published = 0;
      try {
        published = await this.relayOnce();
        failures = 0;
        if (published > 0) this.options.onPublished?.(published);
      } catch (error) {
        failures++;
        log.error({ err: errorSummary(error), failures }, 'outbox publish failed; will retry');
      }
      if (published === 0 || failures > 0) await this.pause(failures > 0 ? Math.min(10_000, this.idleMs * 2 ** failures) : this.idleMs);
    }
  }

  private pause(ms: number): Promise<void> {
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

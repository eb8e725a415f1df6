import type { DataSource, QueryRunner } from 'typeorm';

/** Key of the session advisory lock whose holder runs the scheduler and redelivery. */
const LEADER_LOCK = 0x52455445; // "RETE"

/**
 * Leadership among coordinator replicas: the replica whose dedicated connection holds a
 * PostgreSQL session advisory lock is the leader. If that connection dies, the lock is released
 * by the server and another replica takes over at its next try.
 */
export class LeaderLock {
  private runner: QueryRunner | undefined;

  constructor(private readonly dataSource: DataSource) {}

  /** True while this replica is the leader; tries to become it when it is not. */
  async ensure(): Promise<boolean> {
    try {
      if (this.runner) {
        await this.runner.query('SELECT 1');
        return true;
      }
      const runner = this.dataSource.createQueryRunner();
      await runner.connect();
      const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK])) as Array<{ ok: boolean }>;
      if (row?.ok) {
        this.runner = runner;
        return true;
      }
      await runner.release();
      return false;
    } catch {
      await this.release();
      return false;
    }
  }

  async release(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    if (!runner) return;
    await runner.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK]).catch(() => undefined);
    await runner.release().catch(() => undefined);
  }
}

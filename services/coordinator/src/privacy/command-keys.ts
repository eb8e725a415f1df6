import { type CommandKey, encodeEvent, EventTypes, newCommandKey, type TopicNames, unwrapCommandKey, wrapCommandKey } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource, EntityManager } from 'typeorm';

/** A live command key: what a command's subject id is sealed with. */
export interface CommandKeyHandle {
  keyId: string;
  key: Buffer;
}

export interface CommandKeyOptions {
  kek: Buffer;
  topics: TopicNames;
  /** A new key is drawn when the newest is this old. */
  rotationMs: number;
  /** A key is destroyed this long after it was drawn (rotation + command topic retention + margin). */
  lifetimeMs: number;
  /**
   * The wall clock. Keys live by the time Kafka's retention runs on and services check `destroyAt`
   * against, never by a caller's business clock (the coordinator's injected `now`).
   */
  clock?: () => Date;
}

interface KeyRow {
  key_id: string;
  wrapped: CommandKey['wrapped'];
  created_at: Date;
  destroy_at: Date;
}

/**
 * The coordinator's command keys, in table `command_keys` (wrapped with the key-encryption key, so
 * a dump of the database alone opens nothing) and on the keys topic for the services, through the
 * outbox. `current` returns the newest key, drawing a new one (published in the same transaction)
 * when it is older than the rotation period; the key is used for at most one rotation period and
 * destroyed `lifetimeMs` after it was drawn (see privacy-maintenance.ts).
 */
export function createCommandKeys(options: CommandKeyOptions) {
  function message(row: KeyRow) {
    const { value } = encodeEvent(
      EventTypes.commandKey,
      { keyId: row.key_id, wrapped: row.wrapped, createdAt: new Date(row.created_at).toISOString(), destroyAt: new Date(row.destroy_at).toISOString() },
      { source: '/retention/coordinator' },
    );
    return { topic: options.topics.keys, key: row.key_id, value };
  }

  const clock = options.clock ?? (() => new Date());

  /** The key to seal with now (`_at`, the caller's business time, is not used: see `clock`). */
  async function current(manager: EntityManager, _at?: Date): Promise<CommandKeyHandle> {
    const now = clock();
    const fresh = `SELECT key_id, wrapped, created_at, destroy_at FROM command_keys WHERE created_at > $1 AND destroy_at > $2 ORDER BY created_at DESC LIMIT 1`;
    const since = new Date(now.getTime() - options.rotationMs);
    let [row] = (await manager.query(fresh, [since, now])) as KeyRow[];
    if (!row) {
      // One drawer at a time: concurrent requests after a rotation share the new key.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('retention.command_keys'))`);
      [row] = (await manager.query(fresh, [since, now])) as KeyRow[];
    }
    if (!row) {
      const drawn = newCommandKey(now);
      row = {
        key_id: drawn.keyId,
        wrapped: wrapCommandKey(options.kek, drawn.keyId, drawn.key),
        created_at: now,
        destroy_at: new Date(now.getTime() + options.lifetimeMs),
      };
      drawn.key.fill(0);
      await manager.query(`INSERT INTO command_keys (key_id, wrapped, created_at, destroy_at, published_at) VALUES ($1, $2, $3, $4, $3)`, [
        row.key_id,
        row.wrapped,
        row.created_at,
        row.destroy_at,
      ]);
      // Enqueued before any command sealed with it: the services' replica has it by the time the command arrives.
      await enqueueOutbox(manager, [message(row)]);
    }
    return { keyId: row.key_id, key: unwrapCommandKey(options.kek, row.key_id, row.wrapped) };
  }

  /**
   * Destroys the keys past their lifetime (row deleted, tombstone published) and re-publishes the
   * live ones not published for a rotation period, so the keys topic's short retention always holds
   * every live key. Returns what it did.
   */
  async function maintain(dataSource: DataSource): Promise<{ destroyed: string[]; republished: number }> {
    const now = clock();
    return dataSource.transaction(async (manager) => {
      const [gone] = (await manager.query(`DELETE FROM command_keys WHERE destroy_at <= $1 RETURNING key_id`, [now])) as [Array<{ key_id: string }>, number];
      const destroyed = (gone ?? []).map((r) => r.key_id);
      if (destroyed.length > 0)
        await enqueueOutbox(
          manager,
          destroyed.map((keyId) => ({ topic: options.topics.keys, key: keyId, value: null })),
        );
      const [stale] = (await manager.query(
        `UPDATE command_keys SET published_at = $1 WHERE published_at <= $2 RETURNING key_id, wrapped, created_at, destroy_at`,
        [now, new Date(now.getTime() - options.rotationMs)],
      )) as [KeyRow[], number];
      if (stale && stale.length > 0) await enqueueOutbox(manager, stale.map(message));
      return { destroyed, republished: stale?.length ?? 0 };
    });
  }

  return { current, maintain };
}

export type CommandKeys = ReturnType<typeof createCommandKeys>;

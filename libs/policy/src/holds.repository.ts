import type { HoldPlaced } from '@retention/contracts';
import type { EntityManager } from 'typeorm';

export interface ActiveHold {
  holdId: string;
  scope: 'subject' | 'policy' | 'record';
  subjectType: string | null;
  subjectId: string | null;
  policy: string | null;
  tableName: string | null;
  recordKey: string | null;
}

/** A hold is active until it is released (tombstone) or its expiry passes. */
export const ACTIVE_HOLD_SQL = '(h.expires_at IS NULL OR h.expires_at > now())';

/**
 * Stores a hold replicated from the holds topic (newer versions of the same hold replace it). A hold
 * released before is not placed again: returns false.
 */
export async function upsertHold(manager: EntityManager, hold: HoldPlaced): Promise<boolean> {
  const result = (await manager.query(
    `INSERT INTO retention_holds (hold_id, scope, subject_type, subject_id, policy, table_name, record_key, expires_at, placed_at)
     SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::timestamptz, $9::timestamptz WHERE NOT EXISTS (SELECT 1 FROM retention_released_holds WHERE hold_id = $1)
     ON CONFLICT (hold_id) DO UPDATE SET scope = EXCLUDED.scope, subject_type = EXCLUDED.subject_type, subject_id = EXCLUDED.subject_id,
       policy = EXCLUDED.policy, table_name = EXCLUDED.table_name, record_key = EXCLUDED.record_key,
       expires_at = EXCLUDED.expires_at, placed_at = EXCLUDED.placed_at, updated_at = now()
     RETURNING hold_id`,
    [
      hold.holdId,
      hold.scope,
      hold.subject?.type ?? null,
      hold.subject?.id ?? null,
      hold.policy ?? null,
      hold.table ?? null,
      hold.recordKey ?? null,
      hold.expiresAt ?? null,
      hold.placedAt,
    ],
  )) as unknown[];
  return result.length > 0;
}

/** Removes a local copy without remembering the id (a hold for another service, or one the topic no longer has). */
export async function dropHold(manager: EntityManager, holdId: string): Promise<void> {
  await manager.query('DELETE FROM retention_holds WHERE hold_id = $1', [holdId]);
}

/** Releases a hold for good: its id is remembered so that it is never placed again. */
export async function releaseHold(manager: EntityManager, holdId: string): Promise<void> {
  await manager.query(
    `WITH released AS (INSERT INTO retention_released_holds (hold_id) VALUES ($1) ON CONFLICT DO NOTHING)
     DELETE FROM retention_holds WHERE hold_id = $1`,
    [holdId],
  );
}

/** Active subject and policy holds (record holds are applied row by row in SQL). */
export async function activeScopedHolds(manager: EntityManager): Promise<ActiveHold[]> {
  const rows: Array<Record<string, string | null>> = await manager.query(
    `SELECT hold_id, scope, subject_type, subject_id, policy, table_name, record_key FROM retention_holds h
     WHERE scope IN ('subject', 'policy') AND ${ACTIVE_HOLD_SQL}`,
  );
  return rows.map((r) => ({
    holdId: r.hold_id!,
    scope: r.scope as ActiveHold['scope'],
    subjectType: r.subject_type ?? null,
    subjectId: r.subject_id ?? null,
    policy: r.policy ?? null,
    tableName: r.table_name ?? null,
    recordKey: r.record_key ?? null,
  }));
}

import { enqueueOutbox } from '@retention/outbox';
import type { DataSource } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from './coordinator-privacy';
import { holdMessage } from './hold-message';
import { isSealed } from './subject-vault';

export interface PrivacyTick {
  keysDestroyed: number;
  keysRepublished: number;
  holdsResealed: number;
  holdsExpired: number;
  subjectsForgotten: number;
}

/**
 * One pass of what bounds the personal data the platform keeps (the leader's maintenance loop):
 * - command keys past their lifetime destroyed, live ones re-published (command-keys.ts);
 * - active subject holds re-published sealed under the current key (the services' copy must stay
 *   readable after the key it was sealed with is destroyed);
 * - expired holds released (tombstone, ledger `hold.released` by `system:expired`), and every ended hold's subject id and
 *   reason text cleared;
 * - the subject id and reason text of completed requests cleared (completion clears the id already;
 *   this catches every path), and those of requests still open (not held) `subjectMaxAgeMs` after
 *   they were made: such a request is failed (ledger `request.failed`, reason `subject_forgotten`), its targets
 *   too, and a new request is needed to erase that subject.
 */
export async function runPrivacyMaintenance(dataSource: DataSource, privacy: CoordinatorPrivacy, now: Date): Promise<PrivacyTick> {
  const keys = await privacy.commandKeys.maintain(dataSource);
  return dataSource.transaction(async (manager) => {
    const entries: LedgerEntryInput[] = [];
    const key = await privacy.commandKeys.current(manager);

    const stale = (await manager.query(
      `SELECT id, scope, subject_type, subject_id, service, policy, table_name, record_key, reason, placed_by, placed_at, expires_at FROM legal_holds
       WHERE scope = 'subject' AND subject_id IS NOT NULL AND released_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
         AND published_key_id IS DISTINCT FROM $2
       ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED`,
      [now, key.keyId],
    )) as HoldRow[];
    for (const h of stale) {
      await enqueueOutbox(manager, [
        holdMessage(
          privacy.topics,
          {
            id: h.id,
            scope: h.scope,
            subjectType: h.subject_type,
            subjectId: privacy.vault.open('hold', h.id, h.subject_id),
            service: h.service,
            policy: h.policy,
            table: h.table_name,
            recordKey: h.record_key,
            reasonRef: privacy.reasonRef(h.reason ?? ''),
            placedBy: h.placed_by,
            placedAt: h.placed_at,
            expiresAt: h.expires_at,
          },
          key,
        ),
      ]);
      await manager.query(`UPDATE legal_holds SET published_key_id = $2 WHERE id = $1`, [h.id, key.keyId]);
    }

    const [expired] = (await manager.query(
      `UPDATE legal_holds SET released_at = $1, released_by = 'system:expired'
       WHERE released_at IS NULL AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING id`,
      [now],
    )) as [Array<{ id: string }>, number];
    for (const { id } of expired ?? []) {
      await enqueueOutbox(manager, [{ topic: privacy.topics.holds, key: id, value: null }]);
      entries.push({ requestId: null, type: 'hold.released', body: { holdId: id, releasedBy: 'system:expired' } });
    }
    await manager.query(
      `UPDATE legal_holds SET subject_id = NULL, reason = NULL WHERE released_at IS NOT NULL AND (subject_id IS NOT NULL OR reason IS NOT NULL)`,
    );

    await manager.query(
      `UPDATE retention_requests SET subject_id = NULL, reason = NULL WHERE status IN ('completed', 'cancelled') AND (subject_id IS NOT NULL OR reason IS NOT NULL)`,
    );
    // A manual task's confirmation note is free text (it may name someone): kept only while its request is open.
    await manager.query(
      `UPDATE request_targets t SET note = NULL FROM retention_requests r
       WHERE r.id = t.request_id AND t.note IS NOT NULL AND r.status IN ('completed', 'cancelled', 'failed')`,
    );
    const [forgotten] = (await manager.query(
      `UPDATE retention_requests r SET subject_id = NULL, reason = NULL, status = 'failed'
       FROM (SELECT id, status FROM retention_requests WHERE subject_id IS NOT NULL AND status IN ('pending', 'failed') AND created_at <= $1
             ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED) old
       WHERE r.id = old.id RETURNING r.id, old.status AS previous`,
      [new Date(now.getTime() - privacy.subjectMaxAgeMs)],
    )) as [Array<{ id: string; previous: string }>, number];
    for (const r of forgotten ?? []) {
      await manager.query(`UPDATE request_targets SET status = 'failed', next_attempt_at = NULL WHERE request_id = $1 AND status = 'pending'`, [r.id]);
      entries.push({ requestId: r.id, type: 'request.failed', body: { reason: 'subject_forgotten', previousStatus: r.previous } });
    }
    await appendLedger(manager, entries, now);
    return {
      keysDestroyed: keys.destroyed.length,
      keysRepublished: keys.republished,
      holdsResealed: stale.length,
      holdsExpired: expired?.length ?? 0,
      subjectsForgotten: forgotten?.length ?? 0,
    };
  });
}

/** Seals the subject ids stored in clear before this version (once, at start; cheap when none are left). */
export async function sealLegacySubjectIds(dataSource: DataSource, privacy: CoordinatorPrivacy): Promise<number> {
  let sealed = 0;
  for (const [table, scope] of [
    ['retention_requests', 'request'],
    ['legal_holds', 'hold'],
  ] as const) {
    const rows = (await dataSource.query(`SELECT id, subject_id FROM ${table} WHERE subject_id IS NOT NULL AND subject_id NOT LIKE 'sealed:v1:%'`)) as Array<{
      id: string;
      subject_id: string;
    }>;
    for (const r of rows) {
      if (isSealed(r.subject_id)) continue;
      await dataSource.query(`UPDATE ${table} SET subject_id = $2 WHERE id = $1 AND subject_id = $3`, [
        r.id,
        privacy.vault.seal(scope, r.id, r.subject_id),
        r.subject_id,
      ]);
      sealed++;
    }
  }
  return sealed;
}

interface HoldRow {
  id: string;
  scope: 'subject' | 'policy' | 'record';
  subject_type: string | null;
  subject_id: string | null;
  service: string | null;
  policy: string | null;
  table_name: string | null;
  record_key: string | null;
  reason: string | null;
  placed_by: string;
  placed_at: Date;
  expires_at: Date | null;
}

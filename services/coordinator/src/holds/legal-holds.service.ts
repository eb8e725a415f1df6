import { randomUUID } from 'node:crypto';
import { type CommandHold, NotFoundError, type Subject, type TopicNames, ValidationError } from '@retention/contracts';
import { enqueueOutbox } from '@retention/outbox';
import type { DataSource, EntityManager } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import type { CoordinatorPrivacy } from '../privacy/coordinator-privacy';
import { holdMessage } from '../privacy/hold-message';
import { holdableServices } from '../registry/registry.repository';
import { subjectRef } from '../subject-ref';
import { unregisteredHoldNames } from './hold-names';

export interface PlaceHold {
  scope: 'subject' | 'policy' | 'record';
  subject?: Subject;
  service?: string;
  policy?: string;
  table?: string;
  recordKey?: string;
  reason: string;
  expiresAt?: string;
  placedBy: string;
}

/** A hold as the API shows it: the subject appears as its keyed hash, never its id. */
export interface HoldView {
  id: string;
  scope: PlaceHold['scope'];
  subjectType: string | null;
  subjectRef: string | null;
  service: string | null;
  policy: string | null;
  table: string | null;
  recordKey: string | null;
  /** The reason text while the hold is in force; erased (null) once it ended. */
  reason: string | null;
  placedBy: string;
  placedAt: string;
  expiresAt: string | null;
  releasedAt: string | null;
  releasedBy: string | null;
  active: boolean;
}

interface HoldRow {
  id: string;
  scope: PlaceHold['scope'];
  subject_type: string | null;
  subject_ref: string | null;
  service: string | null;
  policy: string | null;
  table_name: string | null;
  record_key: string | null;
  reason: string | null;
  placed_by: string;
  placed_at: Date;
  expires_at: Date | null;
  released_at: Date | null;
  released_by: string | null;
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function toView(r: HoldRow, now: Date): HoldView {
  return {
    id: r.id,
    scope: r.scope,
    subjectType: r.subject_type,
    subjectRef: r.subject_ref,
    service: r.service,
    policy: r.policy,
    table: r.table_name,
    recordKey: r.record_key,
    reason: r.reason,
    placedBy: r.placed_by,
    placedAt: iso(r.placed_at)!,
    expiresAt: iso(r.expires_at),
    releasedAt: iso(r.released_at),
    releasedBy: r.released_by,
    active: !r.released_at && (!r.expires_at || new Date(r.expires_at) > now),
  };
}

const ACTIVE = `released_at IS NULL AND (expires_at IS NULL OR expires_at > now())`;

/**
 * Legal holds: stored here, and published to the compacted holds topic (through the outbox, in
 * the same transaction) so that every service enforces them locally; a release publishes a
 * tombstone. Every change is a ledger entry.
 */
export function createLegalHoldsService(deps: {
  dataSource: DataSource;
  topics: TopicNames;
  hmacKey: string;
  /** Seals the hold's subject id (at rest and on the holds topic) and names its reason by HMAC. */
  privacy: CoordinatorPrivacy;
  onQueued: () => void;
  /** Runs in the release's transaction (resumes the held erasures whose holds have all ended). */
  onReleased?: (manager: EntityManager, at: Date) => Promise<unknown>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());

  async function place(input: PlaceHold): Promise<HoldView> {
    const placedAt = now();
    if (input.expiresAt && new Date(input.expiresAt) <= placedAt) {
      throw new ValidationError('invalid legal hold', [{ path: 'expiresAt', message: 'must be in the future' }]);
    }
    const unregistered = unregisteredHoldNames(input, await holdableServices(deps.dataSource));
    if (unregistered.length > 0) throw new ValidationError('invalid legal hold', unregistered);
    const id = randomUUID();
    const ref = input.subject ? subjectRef(deps.hmacKey, input.subject) : null;
    const reasonRef = deps.privacy.reasonRef(input.reason);
    await deps.dataSource.transaction(async (manager) => {
      // The topic carries the subject id sealed under the current command key and the reason's HMAC only.
      const key = await deps.privacy.commandKeys.current(manager, placedAt);
      const message = holdMessage(
        deps.topics,
        {
          id,
          scope: input.scope,
          subjectType: input.subject?.type ?? null,
          subjectId: input.subject?.id ?? null,
          service: input.service ?? null,
          policy: input.policy ?? null,
          table: input.table ?? null,
          recordKey: input.recordKey ?? null,
          reasonRef,
          placedBy: input.placedBy,
          placedAt,
          expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        },
        key,
      );
      await manager.query(
        `INSERT INTO legal_holds (id, scope, subject_type, subject_ref, subject_id, service, policy, table_name, record_key, reason, placed_by, placed_at, expires_at, published_key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          id,
          input.scope,
          input.subject?.type ?? null,
          ref,
          input.subject ? deps.privacy.vault.seal('hold', id, input.subject.id) : null,
          input.service ?? null,
          input.policy ?? null,
          input.table ?? null,
          input.recordKey ?? null,
          input.reason,
          input.placedBy,
          placedAt,
          input.expiresAt ?? null,
          input.scope === 'subject' ? key.keyId : null,
        ],
      );
      await enqueueOutbox(manager, [message]);
      await appendLedger(
        manager,
        [
          {
            requestId: null,
            type: 'hold.placed',
            body: {
              holdId: id,
              scope: input.scope,
              subjectType: input.subject?.type ?? null,
              subjectRef: ref,
              service: input.service ?? null,
              policy: input.policy ?? null,
              table: input.table ?? null,
              recordKey: input.recordKey ?? null,
              reasonRef,
              placedBy: input.placedBy,
              expiresAt: input.expiresAt ?? null,
            },
          },
        ],
        placedAt,
      );
    });
    deps.onQueued();
    return get(id);
  }

  async function release(id: string, releasedBy: string): Promise<HoldView> {
    const at = now();
    const released = await deps.dataSource.transaction((manager) => releaseIn(manager, id, releasedBy, at));
    if (released) deps.onQueued();
    return get(id);
  }

  /** Releases a hold in the caller's transaction (an approved release); false if it was already released. Call `onQueued` after commit. */
  async function releaseIn(manager: EntityManager, id: string, releasedBy: string, at: Date): Promise<boolean> {
    const rows = (await manager.query(
      `UPDATE legal_holds SET released_at = $2, released_by = $3, subject_id = NULL, reason = NULL WHERE id = $1 AND released_at IS NULL RETURNING id`,
      [id, at, releasedBy],
    )) as [unknown[], number];
    if (rows[1] === 0) {
      const [exists] = (await manager.query(`SELECT 1 FROM legal_holds WHERE id = $1`, [id])) as unknown[];
      if (!exists) throw new NotFoundError(`legal hold ${id} does not exist`);
      return false;
    }
    await enqueueOutbox(manager, [{ topic: deps.topics.holds, key: id, value: null }]);
    await appendLedger(manager, [{ requestId: null, type: 'hold.released', body: { holdId: id, releasedBy } }], at);
    await deps.onReleased?.(manager, at);
    return true;
  }

  async function get(id: string): Promise<HoldView> {
    const [row] = (await deps.dataSource.query(`SELECT * FROM legal_holds WHERE id = $1`, [id])) as HoldRow[];
    if (!row) throw new NotFoundError(`legal hold ${id} does not exist`);
    return toView(row, now());
  }

  async function list(filter: { active?: boolean; subjectRef?: string }): Promise<HoldView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.active === true) where.push(ACTIVE);
    if (filter.active === false) where.push(`NOT (${ACTIVE})`);
    if (filter.subjectRef) {
      params.push(filter.subjectRef);
      where.push(`subject_ref = $${params.length}`);
    }
    const rows = (await deps.dataSource.query(
      `SELECT * FROM legal_holds ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY placed_at DESC LIMIT 1000`,
      params,
    )) as HoldRow[];
    return rows.map((r) => toView(r, now()));
  }

  return { place, release, releaseIn, get, list };
}

/** Subject holds in force for a subject, to be named in its erasure command. */
export async function activeSubjectHolds(manager: EntityManager, ref: string): Promise<CommandHold[]> {
  const rows = (await manager.query(`SELECT id, service FROM legal_holds WHERE scope = 'subject' AND subject_ref = $1 AND ${ACTIVE}`, [ref])) as Array<{
    id: string;
    service: string | null;
  }>;
  return rows.map((r) => ({ holdId: r.id, scope: 'subject' as const, ...(r.service ? { service: r.service } : {}) }));
}

/** Policy holds in force, to be named in a sweep command. */
export async function activePolicyHolds(manager: EntityManager): Promise<CommandHold[]> {
  const rows = (await manager.query(`SELECT id, service, policy FROM legal_holds WHERE scope = 'policy' AND ${ACTIVE}`)) as Array<{
    id: string;
    service: string | null;
    policy: string;
  }>;
  return rows.map((r) => ({ holdId: r.id, scope: 'policy' as const, policy: r.policy, ...(r.service ? { service: r.service } : {}) }));
}

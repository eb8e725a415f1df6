import { ConflictError, NotFoundError, RetentionError, type ServiceRegistered } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendLedger } from '../ledger/ledger.repository';
import { settleRequest } from '../requests/settle-request';
import { syncPolicies } from './policy-enablement';

export type ServiceStatus = 'pending_approval' | 'active' | 'retired';

/**
 * How a registration was authenticated: `trusted` = signed with a key the coordinator already
 * trusts for that service (its configuration names it, or an admin approved it); `self_asserted` =
 * signed with the key the manifest itself presents, which proves only that the sender holds it.
 */
export type RegistrationTrust = 'trusted' | 'self_asserted';

/** New services waiting for approval at most; more are dead-lettered until an admin acts. */
export const MAX_PENDING_REGISTRATIONS = 100;

export class TooManyPendingRegistrationsError extends RetentionError {
  readonly code = 'too_many_pending_registrations';
  readonly retriable = false;
}

/** A second registration, with another key, for a service whose registration waits for approval. */
export class PendingConflictError extends RetentionError {
  readonly code = 'pending_conflict';
  readonly retriable = false;
}

export type RegistrationOutcome = 'registered' | 'updated' | 'pending_approval' | 'pending_key_change' | 'retired';

interface ServiceRow {
  service: string;
  status: ServiceStatus;
  pending: boolean;
  pending_key: string | null;
  retired_at: Date | null;
  kind: 'kafka' | 'webhook' | 'manual';
}

/**
 * Records a service's manifest. Only a `trusted` registration changes what an active service is
 * (its policies, subject types, key); anything else waits for an admin's approval, so that no
 * message alone adds a target to every request or swaps the key its acks are checked with.
 */
export async function recordRegistration(
  manager: EntityManager,
  manifest: ServiceRegistered,
  trust: RegistrationTrust,
  at: Date,
  options: { autoEnablePolicies?: boolean } = {},
): Promise<RegistrationOutcome> {
  const [row] = (await manager.query(
    `SELECT service, status, pending_manifest IS NOT NULL AS pending, pending_manifest->'signingKey'->>'publicKey' AS pending_key, retired_at, target_kind AS kind
     FROM registered_services WHERE service = $1 FOR UPDATE`,
    [manifest.service],
  )) as ServiceRow[];
  if (row?.kind !== undefined && row.kind !== 'kafka') {
    throw new ConflictError(`"${manifest.service}" is a ${row.kind} target registered through the API; a Kafka service cannot take its name`);
  }
  const key = manifest.signingKey ?? null;
  // The registry is replayed from its start by every coordinator: a registration published before
  // the service was retired stays retired; only a later one asks for approval again.
  if (row?.status === 'retired' && row.retired_at && new Date(manifest.publishedAt) <= new Date(row.retired_at)) return 'retired';
  if (!row && trust !== 'trusted') {
    // Each unknown name that registers adds a row: a client with write access to the registry
    // topic must not be able to grow this table (or the metrics' label sets) without bound.
    const [{ n }] = (await manager.query(`SELECT count(*)::int AS n FROM registered_services WHERE status = 'pending_approval'`)) as [{ n: number }];
    if (n >= MAX_PENDING_REGISTRATIONS) {
      throw new TooManyPendingRegistrationsError(`${n} registrations already wait for approval; approve or retire some before new services can register`);
    }
  }
  if (trust === 'trusted' && (!row || row.status !== 'retired')) {
    await manager.query(
      `INSERT INTO registered_services (service, version, policy_hash, subject_types, manifest, status, signing_key_id, signing_public_key, consumer_group,
         approved_by, approved_at)
       VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, 'configuration', $9)
       ON CONFLICT (service) DO UPDATE SET version = EXCLUDED.version, policy_hash = EXCLUDED.policy_hash,
         subject_types = EXCLUDED.subject_types, manifest = EXCLUDED.manifest, status = 'active',
         signing_key_id = EXCLUDED.signing_key_id, signing_public_key = EXCLUDED.signing_public_key, consumer_group = EXCLUDED.consumer_group,
         approved_by = COALESCE(registered_services.approved_by, EXCLUDED.approved_by), approved_at = COALESCE(registered_services.approved_at, EXCLUDED.approved_at),
         pending_manifest = NULL, pending_since = NULL, updated_at = now()
       WHERE registered_services.target_kind = 'kafka'`,
      [
        manifest.service,
        manifest.version,
        manifest.policyHash,
        manifest.subjects.map((s) => s.type),
        manifest,
        key?.keyId,
        key?.publicKey,
        manifest.consumerGroup,
        at,
      ],
    );
    await syncPolicies(manager, manifest, at, options.autoEnablePolicies ?? false);
    if (!row) {
      await appendLedger(
        manager,
        [{ requestId: null, type: 'service.approved', service: manifest.service, body: { by: 'configuration', keyId: key?.keyId ?? null } }],
        at,
      );
      return 'registered';
    }
    return 'updated';
  }
  // A registration already waits with another key: the first one stays (an admin approves a key
  // they checked, and a second sender cannot swap its own in while they look).
  if (row?.pending && row.pending_key !== (key?.publicKey ?? null)) {
    throw new PendingConflictError(`a registration of "${manifest.service}" with another key already waits for approval`);
  }
  // Self-asserted, or a retired service coming back: kept aside until an admin approves it.
  await manager.query(
    `INSERT INTO registered_services (service, version, policy_hash, subject_types, manifest, status, pending_manifest, pending_since)
     VALUES ($1, $2, $3, $4, $5, 'pending_approval', $5, $6)
     ON CONFLICT (service) DO UPDATE SET pending_manifest = EXCLUDED.pending_manifest,
       pending_since = COALESCE(registered_services.pending_since, EXCLUDED.pending_since),
       status = CASE WHEN registered_services.status = 'retired' THEN 'pending_approval' ELSE registered_services.status END, updated_at = now()`,
    [manifest.service, manifest.version, manifest.policyHash, manifest.subjects.map((s) => s.type), manifest, at],
  );
  // One entry per registration that starts waiting, not per message: a flood of forged ones adds none.
  if (!row?.pending) {
    await appendLedger(
      manager,
      [{ requestId: null, type: 'service.registration_pending', service: manifest.service, body: { keyId: key?.keyId ?? null, version: manifest.version } }],
      at,
    );
  }
  return row?.status === 'active' ? 'pending_key_change' : 'pending_approval';
}

/** An admin approves the registration waiting for it: its manifest applies and its key is pinned. */
export async function approveService(
  dataSource: DataSource,
  service: string,
  by: string,
  at: Date,
  options: { autoEnablePolicies?: boolean; expectedPublicKey: string },
): Promise<ServiceView> {
  await dataSource.transaction(async (manager) => {
    const [row] = (await manager.query(`SELECT pending_manifest FROM registered_services WHERE service = $1 FOR UPDATE`, [service])) as Array<{
      pending_manifest: ServiceRegistered | null;
    }>;
    if (!row) throw new NotFoundError(`no registered service "${service}"`);
    const manifest = row.pending_manifest;
    if (!manifest) throw new ConflictError(`service "${service}" has no registration waiting for approval`);
    if (!manifest.signingKey) throw new ConflictError(`the registration of "${service}" names no signing key; its acks could not be authenticated`);
    if (manifest.signingKey.publicKey !== options.expectedPublicKey) {
      throw new ConflictError(
        `the registration waiting for "${service}" presents another key (key id ${manifest.signingKey.keyId}); check it and approve that key`,
      );
    }
    // One key, one service: an ack says which service it speaks for, and only that service's key may
    // sign it. A key (or key id) another service has would let either speak for the other.
    const owners = (await manager.query(
      `SELECT service, signing_public_key = $2 AS same_key FROM registered_services
       WHERE service <> $1 AND (signing_public_key = $2 OR signing_key_id = $3) ORDER BY service`,
      [service, manifest.signingKey.publicKey, manifest.signingKey.keyId],
    )) as Array<{ service: string; same_key: boolean }>;
    if (owners.length > 0) {
      const [owner] = owners;
      throw new ConflictError(
        owner!.same_key
          ? `the registration waiting for "${service}" presents the signing key of "${owner!.service}"; each service needs a key of its own`
          : `the registration waiting for "${service}" uses key id ${manifest.signingKey.keyId}, which "${owner!.service}" already has; each service needs a key id of its own`,
      );
    }
    await manager.query(
      `UPDATE registered_services SET version = $2, policy_hash = $3, subject_types = $4, manifest = $5, status = 'active',
         signing_key_id = $6, signing_public_key = $7, consumer_group = $8, approved_by = $9, approved_at = $10,
         pending_manifest = NULL, pending_since = NULL, retired_by = NULL, retired_at = NULL, retired_reason = NULL, updated_at = now()
       WHERE service = $1`,
      [
        service,
        manifest.version,
        manifest.policyHash,
        manifest.subjects.map((s) => s.type),
        manifest,
        manifest.signingKey.keyId,
        manifest.signingKey.publicKey,
        manifest.consumerGroup ?? null,
        by,
        at,
      ],
    );
    await syncPolicies(manager, manifest, at, options.autoEnablePolicies ?? false);
    await appendLedger(
      manager,
      [{ requestId: null, type: 'service.approved', service, body: { by, keyId: manifest.signingKey.keyId, version: manifest.version } }],
      at,
    );
  });
  return getService(dataSource, service);
}

/**
 * Retires a service: it stops being a target of new requests, and its open targets are closed as
 * `retired` (a request whose other targets are done completes). Every step is in the ledger.
 */
export async function retireService(
  dataSource: DataSource,
  service: string,
  input: { by: string; reason: string },
  at: Date,
): Promise<{ closedTargets: number }> {
  return dataSource.transaction(async (manager) => {
    const [row] = (await manager.query(`SELECT status FROM registered_services WHERE service = $1 FOR UPDATE`, [service])) as Array<{ status: ServiceStatus }>;
    if (!row) throw new NotFoundError(`no registered service "${service}"`);
    if (row.status === 'retired') throw new ConflictError(`service "${service}" is already retired`);
    await manager.query(
      `UPDATE registered_services SET status = 'retired', retired_by = $2, retired_at = $3, retired_reason = $4, pending_manifest = NULL, pending_since = NULL,
         updated_at = now() WHERE service = $1`,
      [service, input.by, at, input.reason],
    );
    const closed = (await manager.query(
      `UPDATE request_targets t SET status = 'retired', acked_at = $2, next_attempt_at = NULL
       FROM retention_requests r WHERE t.request_id = r.id AND t.service = $1 AND t.status IN ('pending', 'failed') AND r.status <> 'completed'
       RETURNING t.request_id`,
      [service, at],
    )) as [Array<{ request_id: string }>, number];
    const requestIds = closed[0].map((r) => r.request_id);
    const entries: Parameters<typeof appendLedger>[1][number][] = [
      { requestId: null, type: 'service.retired', service, body: { by: input.by, reason: input.reason, closedTargets: requestIds.length } },
      ...requestIds.map((id) => ({ requestId: id, type: 'target.retired' as const, service, body: { by: input.by } })),
    ];
    // Requests left with nothing open settle as an ack would leave them (completed, held or failed).
    const requests = (await manager.query(`SELECT id, status, dry_run, kind FROM retention_requests WHERE id = ANY($1::uuid[]) ORDER BY id`, [
      requestIds,
    ])) as Array<{ id: string; status: string; dry_run: boolean; kind: 'erasure' | 'sweep' }>;
    for (const r of requests) entries.push(...(await settleRequest(manager, { id: r.id, status: r.status, dryRun: r.dry_run, kind: r.kind }, at)));
    await appendLedger(manager, entries, at);
    return { closedTargets: requestIds.length };
  });
}

/** The services whose manifests say they store data of `subjectType`: active ones only. */
export async function servicesStoring(manager: EntityManager, subjectType: string): Promise<string[]> {
  const rows = (await manager.query(`SELECT service FROM registered_services WHERE status = 'active' AND $1 = ANY(subject_types) ORDER BY service`, [
    subjectType,
  ])) as Array<{
    service: string;
  }>;
  return rows.map((r) => r.service);
}

/** Manifests of the active services (the targets of sweeps). */
export async function activeManifests(manager: EntityManager): Promise<ServiceRegistered[]> {
  const rows = (await manager.query(`SELECT manifest FROM registered_services WHERE status = 'active' AND target_kind = 'kafka' ORDER BY service`)) as Array<{
    manifest: ServiceRegistered;
  }>;
  return rows.map((r) => r.manifest);
}

export async function listServices(dataSource: DataSource): Promise<ServiceRegistered[]> {
  return activeManifests(dataSource.manager);
}

/**
 * What a hold may name: the active Kafka services' manifests, and the active webhook and manual
 * targets as manifests of their subject types alone (no tables, no policies), so that a subject
 * hold can be scoped to one of them or name a type only they store.
 */
export async function holdableServices(dataSource: DataSource): Promise<ServiceRegistered[]> {
  const external = (await dataSource.query(
    `SELECT service, subject_types FROM registered_services WHERE status = 'active' AND target_kind <> 'kafka' ORDER BY service`,
  )) as Array<{ service: string; subject_types: string[] }>;
  return [
    ...(await activeManifests(dataSource.manager)),
    ...external.map(
      (e) => ({ service: e.service, subjects: e.subject_types.map((type) => ({ type, tables: [] })), policies: [] }) as unknown as ServiceRegistered,
    ),
  ];
}

/** What the API shows of a registration (public keys are public; no secrets here). */
export interface ServiceView {
  service: string;
  status: ServiceStatus;
  version: string;
  policyHash: string;
  signingKeyId: string | null;
  consumerGroup: string | null;
  approvedBy: string | null;
  approvedAt: string | null;
  retiredBy: string | null;
  retiredAt: string | null;
  retiredReason: string | null;
  /** A registration waiting for approval: its version and key. */
  pending: { version: string; signingKeyId: string | null; publicKey: string | null; since: string } | null;
  /** How it is reached: a Kafka consumer, a webhook (`url`), or a manual task (`instructions`). */
  kind: 'kafka' | 'webhook' | 'manual';
  subjectTypes: string[];
  url?: string;
  instructions?: string;
}

interface ServiceViewRow {
  service: string;
  status: ServiceStatus;
  version: string;
  policy_hash: string;
  signing_key_id: string | null;
  consumer_group: string | null;
  approved_by: string | null;
  approved_at: Date | null;
  retired_by: string | null;
  retired_at: Date | null;
  retired_reason: string | null;
  pending_manifest: ServiceRegistered | null;
  pending_since: Date | null;
  target_kind: 'kafka' | 'webhook' | 'manual';
  subject_types: string[];
  webhook_url: string | null;
  instructions: string | null;
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function toView(r: ServiceViewRow): ServiceView {
  return {
    service: r.service,
    status: r.status,
    version: r.version,
    policyHash: r.policy_hash,
    signingKeyId: r.signing_key_id,
    consumerGroup: r.consumer_group,
    approvedBy: r.approved_by,
    approvedAt: iso(r.approved_at),
    retiredBy: r.retired_by,
    retiredAt: iso(r.retired_at),
    retiredReason: r.retired_reason,
    pending: r.pending_manifest
      ? {
          version: r.pending_manifest.version,
          signingKeyId: r.pending_manifest.signingKey?.keyId ?? null,
          publicKey: r.pending_manifest.signingKey?.publicKey ?? null,
          since: iso(r.pending_since)!,
        }
      : null,
    kind: r.target_kind,
    subjectTypes: r.subject_types,
    ...(r.webhook_url ? { url: r.webhook_url } : {}),
    ...(r.instructions ? { instructions: r.instructions } : {}),
  };
}

const VIEW_COLUMNS = `service, status, version, policy_hash, signing_key_id, consumer_group, approved_by, approved_at, retired_by, retired_at, retired_reason,
  pending_manifest, pending_since, target_kind, subject_types, webhook_url, instructions`;

export async function getService(dataSource: DataSource, service: string): Promise<ServiceView> {
  const [row] = (await dataSource.query(`SELECT ${VIEW_COLUMNS} FROM registered_services WHERE service = $1`, [service])) as ServiceViewRow[];
  if (!row) throw new NotFoundError(`no registered service "${service}"`);
  return toView(row);
}

export async function listServiceViews(dataSource: DataSource): Promise<ServiceView[]> {
  const rows = (await dataSource.query(`SELECT ${VIEW_COLUMNS} FROM registered_services ORDER BY service`)) as ServiceViewRow[];
  return rows.map(toView);
}

/** Pinned signing keys of active services, for the acks they sign. */
export async function pinnedServiceKeys(dataSource: DataSource): Promise<Array<{ service: string; keyId: string; publicKey: string }>> {
  const rows = (await dataSource.query(
    `SELECT service, signing_key_id, signing_public_key FROM registered_services WHERE status = 'active' AND signing_public_key IS NOT NULL`,
  )) as Array<{ service: string; signing_key_id: string; signing_public_key: string }>;
  return rows.map((r) => ({ service: r.service, keyId: r.signing_key_id, publicKey: r.signing_public_key }));
}

/** The consumer group each active service reads commands with (for its lag), by service. */
export async function activeServiceGroups(dataSource: DataSource): Promise<Array<{ service: string; group: string | null }>> {
  const rows = (await dataSource.query(`SELECT service, consumer_group FROM registered_services WHERE status = 'active' AND target_kind = 'kafka'`)) as Array<{
    service: string;
    consumer_group: string | null;
  }>;
  return rows.map((r) => ({ service: r.service, group: r.consumer_group }));
}

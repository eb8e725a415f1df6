import { randomUUID } from 'node:crypto';
import { type Ack, ConflictError, NotFoundError, ValidationError } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import type { SubjectVault } from '../privacy/subject-vault';
import { newWebhookSecret } from './webhook-signature';

export type ExternalKind = 'webhook' | 'manual';

export interface NewExternalTarget {
  name: string;
  kind: ExternalKind;
  subjectTypes: string[];
  url?: string;
  instructions?: string;
}

export interface UrlRules {
  /** Plain http to a loopback host is allowed (local development and tests). */
  allowHttpLoopback: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Refuses a webhook URL the coordinator must not call: not https (but for loopback when allowed), or with credentials in it. */
export function checkWebhookUrl(text: string, rules: UrlRules): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValidationError('invalid request body', [{ path: 'url', message: 'must be an absolute URL' }]);
  }
  const loopback = LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && rules.allowHttpLoopback)) {
    throw new ValidationError('invalid request body', [
      {
        path: 'url',
        message: rules.allowHttpLoopback
          ? 'must be https (or http to a loopback host)'
          : 'must be https (RETENTION_WEBHOOK_ALLOW_HTTP_LOOPBACK allows http to loopback)',
      },
    ]);
  }
  if (url.username || url.password)
    throw new ValidationError('invalid request body', [{ path: 'url', message: 'must not carry credentials (the payload is signed)' }]);
  if (url.hash) throw new ValidationError('invalid request body', [{ path: 'url', message: 'must not have a fragment' }]);
  return url;
}

/**
 * Registers a webhook or manual target: a row of `registered_services` (active at once: an admin
 * made it), so every later erasure of a subject type it lists names it as a target. Sweeps never
 * go to it (it has no policies). Returns the webhook's secret, which is shown only now.
 */
export async function createExternalTarget(
  dataSource: DataSource,
  input: NewExternalTarget,
  options: { vault: SubjectVault; by: string; at: Date; urlRules: UrlRules; textRef: (text: string) => string },
): Promise<{ service: string; kind: ExternalKind; status: 'active'; subjectTypes: string[]; url?: string; instructions?: string; secret?: string }> {
  const url = input.kind === 'webhook' ? checkWebhookUrl(input.url!, options.urlRules).toString() : null;
  const secret = input.kind === 'webhook' ? newWebhookSecret() : undefined;
  return dataSource.transaction(async (manager) => {
    const subjectTypes = [...new Set(input.subjectTypes)].sort();
    // A retired name stays taken: its history in the ledger must keep meaning one thing. ON CONFLICT:
    // two calls (or a Kafka registration) racing for the name get a 409, not a unique violation.
    const inserted = (await manager.query(
      `INSERT INTO registered_services (service, version, policy_hash, subject_types, manifest, status, approved_by, approved_at, target_kind, webhook_url, webhook_secret, instructions)
       VALUES ($1, 'external', '', $2, $3, 'active', $4, $5, $6, $7, $8, $9) ON CONFLICT (service) DO NOTHING RETURNING service`,
      [
        input.name,
        subjectTypes,
        JSON.stringify({ service: input.name, kind: input.kind, subjectTypes }),
        options.by,
        options.at,
        input.kind,
        url,
        secret ? options.vault.seal('webhook', input.name, secret) : null,
        input.instructions ?? null,
      ],
    )) as unknown[];
    if (inserted.length === 0) {
      const [existing] = (await manager.query(`SELECT status, target_kind FROM registered_services WHERE service = $1`, [input.name])) as Array<{
        status: string;
        target_kind: string;
      }>;
      throw new ConflictError(
        `the name "${input.name}" is taken (${existing ? `a ${existing.target_kind} target, ${existing.status}` : 'by another registration'})`,
      );
    }
    await appendLedger(
      manager,
      [
        {
          requestId: null,
          type: 'target.registered',
          service: input.name,
          // No free text in the append-only ledger: the URL without its query (which may carry a
          // token) and the instructions by keyed hash; the secret is never here.
          body: {
            kind: input.kind,
            subjectTypes,
            url: url ? `${new URL(url).origin}${new URL(url).pathname}` : null,
            instructionsRef: input.instructions ? options.textRef(input.instructions) : null,
            registeredBy: options.by,
          },
        },
      ],
      options.at,
    );
    return {
      service: input.name,
      kind: input.kind,
      status: 'active' as const,
      subjectTypes,
      ...(url ? { url } : {}),
      ...(input.instructions ? { instructions: input.instructions } : {}),
      ...(secret ? { secret } : {}),
    };
  });
}

/**
 * A webhook target's address and secrets (opened; the current one first, then the previous one
 * while a rotation's grace period lasts), or `null` when there is no such webhook.
 */
export async function webhookTarget(
  manager: EntityManager,
  name: string,
  vault: SubjectVault,
  now: Date = new Date(),
): Promise<{ url: string; secret: string; secrets: string[]; status: string } | null> {
  const [row] = (await manager.query(
    `SELECT webhook_url, webhook_secret, status, CASE WHEN webhook_previous_until > $2 THEN webhook_previous_secret END AS previous
     FROM registered_services WHERE service = $1 AND target_kind = 'webhook'`,
    [name, now],
  )) as Array<{ webhook_url: string; webhook_secret: string; status: string; previous: string | null }>;
  if (!row) return null;
  const secret = vault.open('webhook', name, row.webhook_secret)!;
  const previous = row.previous ? vault.open('webhook', `${name}:previous`, row.previous) : null;
  return { url: row.webhook_url, secret, secrets: previous ? [secret, previous] : [secret], status: row.status };
}

/**
 * A new secret for a webhook target; the previous one keeps signing (beside the new one) and
 * verifying callbacks for `graceSeconds`, so the receiver can switch without losing a message.
 */
export async function rotateWebhookSecret(
  dataSource: DataSource,
  name: string,
  options: { vault: SubjectVault; by: string; at: Date; graceSeconds: number },
): Promise<{ service: string; secret: string; previousValidUntil: string }> {
  const secret = newWebhookSecret();
  const until = new Date(options.at.getTime() + options.graceSeconds * 1000);
  return dataSource.transaction(async (manager) => {
    const [row] = (await manager.query(`SELECT status, target_kind, webhook_secret FROM registered_services WHERE service = $1 FOR UPDATE`, [name])) as Array<{
      status: string;
      target_kind: string;
      webhook_secret: string | null;
    }>;
    if (!row) throw new NotFoundError(`no target "${name}"`);
    if (row.target_kind !== 'webhook') throw new ConflictError(`"${name}" is a ${row.target_kind} target: only a webhook has a secret`);
    if (row.status !== 'active') throw new ConflictError(`"${name}" is ${row.status}`);
    const current = options.vault.open('webhook', name, row.webhook_secret)!;
    await manager.query(
      `UPDATE registered_services SET webhook_secret = $2, webhook_previous_secret = $3, webhook_previous_until = $4, updated_at = now() WHERE service = $1`,
      // No grace (a leaked secret): the previous one is not kept at all.
      [name, options.vault.seal('webhook', name, secret), options.graceSeconds > 0 ? options.vault.seal('webhook', `${name}:previous`, current) : null, until],
    );
    await appendLedger(
      manager,
      [{ requestId: null, type: 'target.secret_rotated', service: name, body: { rotatedBy: options.by, previousValidUntil: until.toISOString() } }],
      options.at,
    );
    return { service: name, secret, previousValidUntil: until.toISOString() };
  });
}

/** What a webhook or an operator reports for one target of one erasure. */
export interface ExternalResult {
  status: 'completed' | 'not_applicable' | 'failed' | 'held';
  deleted?: number;
  anonymized?: number;
  reason?: string;
  error?: Ack['error'];
  holdIds?: string[];
}

/**
 * The result as an ack, so that it goes through the same reconciliation as a Kafka service's
 * (complete means complete, contradictions refused, the ledger entry): its counts as one row named
 * after the target (a system outside reports no tables of its own).
 */
export function externalAck(request: { id: string; dryRun: boolean }, target: string, result: ExternalResult, commandId: string, at: Date): Ack {
  const deleted = result.deleted ?? 0;
  const anonymized = result.anonymized ?? 0;
  const counted = result.status === 'completed' && (result.deleted !== undefined || result.anonymized !== undefined);
  return {
    requestId: request.id,
    commandId,
    kind: 'erasure',
    service: target,
    status: result.status,
    dryRun: request.dryRun,
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    tables: counted
      ? [
          {
            table: target.replaceAll('-', '_'),
            action: anonymized > 0 && deleted === 0 ? 'anonymize' : 'delete',
            matched: deleted + anonymized,
            deleted,
            anonymized,
            archived: 0,
            held: 0,
          },
        ]
      : [],
    // Hold ids mean something only in a held answer (and were checked against the holds in force).
    holdIds: result.status === 'held' ? (result.holdIds ?? []).map((id) => id.toLowerCase()) : [],
    ...(result.reason ? { reason: result.reason } : {}),
    ...(result.error ? { error: result.error } : {}),
  };
}

export interface TaskView {
  requestId: string;
  target: string;
  instructions: string;
  status: 'open' | 'done';
  /** The target's status: pending while open; completed or not_applicable once confirmed; retired. */
  targetStatus: string;
  subjectType: string | null;
  subjectRef: string | null;
  /** Only for an admin, and only while the task is open: the person to look for. */
  subjectId?: string;
  dryRun: boolean;
  createdAt: string;
  dueAt: string;
  overdue: boolean;
  /** A done task's outcome: completed, not_applicable (confirmed), failed or retired; null while open. */
  outcome: string | null;
  confirmedBy: string | null;
  confirmedAt: string | null;
}

/**
 * Manual tasks: a manual target of an erasure that was sent (not scheduled, cancelled or held).
 * `open` = still pending; `done` = confirmed (or closed otherwise: retired, failed).
 */
export async function listTasks(
  dataSource: DataSource,
  filter: { status: 'open' | 'done'; limit: number; after?: { createdAt: Date; requestId: string; target: string } },
  options: { withSubject: boolean; vault: SubjectVault; now: Date },
): Promise<{ items: TaskView[]; nextCursor: string | null }> {
  const statuses = filter.status === 'open' ? ['pending'] : ['completed', 'not_applicable', 'failed', 'retired'];
  // Open: opened by the leader (held and dry-run targets never are) and no hold in force now (the
  // leader marks it held on its next tick; until then it is not shown as work to do).
  const openOnly =
    filter.status === 'open'
      ? `AND t.next_attempt_at IS NULL AND NOT r.dry_run AND NOT EXISTS (SELECT 1 FROM legal_holds l WHERE l.scope = 'subject' AND l.subject_ref = r.subject_ref
           AND l.released_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $5) AND (l.service IS NULL OR l.service = t.service))`
      : '';
  const rows = (await dataSource.query(
    `SELECT t.request_id, t.service, t.status, t.confirmed_by, t.confirmed_at, s.instructions, r.subject_type, r.subject_ref, r.subject_id, r.dry_run,
            r.created_at, r.due_at
     FROM request_targets t JOIN registered_services s ON s.service = t.service AND s.target_kind = 'manual'
     JOIN retention_requests r ON r.id = t.request_id
     WHERE t.status = ANY($1::text[]) ${openOnly}
       AND ($2::timestamptz IS NULL OR (r.created_at, r.id, t.service) < ($2::timestamptz, $3::uuid, $6::text))
     ORDER BY r.created_at DESC, r.id DESC, t.service DESC LIMIT $4`,
    [statuses, filter.after?.createdAt ?? null, filter.after?.requestId ?? null, filter.limit + 1, options.now, filter.after?.target ?? ''],
  )) as Array<{
    request_id: string;
    service: string;
    status: string;
    confirmed_by: string | null;
    confirmed_at: Date | null;
    instructions: string;
    subject_type: string | null;
    subject_ref: string | null;
    subject_id: string | null;
    dry_run: boolean;
    created_at: Date;
    due_at: Date;
  }>;
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => {
      const open = r.status === 'pending';
      const subjectId = open && options.withSubject ? options.vault.open('request', r.request_id, r.subject_id) : null;
      return {
        requestId: r.request_id,
        target: r.service,
        instructions: r.instructions,
        status: open ? 'open' : 'done',
        targetStatus: r.status,
        subjectType: r.subject_type,
        subjectRef: r.subject_ref,
        ...(subjectId ? { subjectId } : {}),
        dryRun: r.dry_run,
        createdAt: new Date(r.created_at).toISOString(),
        dueAt: new Date(r.due_at).toISOString(),
        overdue: open && new Date(r.due_at) < options.now,
        outcome: open ? null : r.status,
        confirmedBy: r.confirmed_by,
        confirmedAt: r.confirmed_at ? new Date(r.confirmed_at).toISOString() : null,
      };
    }),
    nextCursor:
      rows.length > filter.limit && last
        ? Buffer.from(JSON.stringify([new Date(last.created_at).toISOString(), last.request_id, last.service])).toString('base64url')
        : null,
  };
}

/** Decodes a tasks cursor; `null` when it is not one this API returned. */
export function decodeTaskCursor(text: string): { createdAt: Date; requestId: string; target: string } | null {
  try {
    const [at, id, target] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [string, string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(id) || typeof target !== 'string' || !/^[a-z][a-z0-9-]{0,62}$/.test(target)) return null;
    return { createdAt, requestId: id, target };
  } catch {
    return null;
  }
}

/**
 * Checks that `target` of request `requestId` is a manual task that is open, under the request's
 * lock (the ack reconciliation takes the same); returns the request's dry-run flag.
 */
export async function openManualTask(manager: EntityManager, requestId: string, target: string): Promise<{ dryRun: boolean }> {
  const [request] = (await manager.query(`SELECT dry_run FROM retention_requests WHERE id = $1 FOR UPDATE`, [requestId])) as Array<{ dry_run: boolean }>;
  if (!request) throw new NotFoundError(`request ${requestId} does not exist`);
  const [row] = (await manager.query(
    `SELECT t.status, s.target_kind FROM request_targets t JOIN registered_services s ON s.service = t.service WHERE t.request_id = $1 AND t.service = $2`,
    [requestId, target],
  )) as Array<{ status: string; target_kind: string }>;
  if (!row) throw new NotFoundError(`"${target}" is not a target of request ${requestId}`);
  if (row.target_kind !== 'manual') throw new ConflictError(`"${target}" is a ${row.target_kind} target: only a manual task is confirmed by hand`);
  if (row.status !== 'pending') throw new ConflictError(`the task is not open: the target is ${row.status}`);
  if (request.dry_run) throw new ConflictError('a dry run has no manual task to confirm');
  return { dryRun: request.dry_run };
}

/**
 * Why a webhook's `held` answer cannot be taken (null when it can): it must name holds, and each
 * must be a subject hold in force on the request's subject for that target. A held target resumes
 * when the holds it names end: an id that is not a hold in force would resume it at once.
 */
export async function heldAnswerProblem(
  manager: EntityManager,
  requestId: string,
  target: string,
  holdIds: readonly string[] | undefined,
  now: Date,
): Promise<string | null> {
  if (!holdIds || holdIds.length === 0) return 'a held answer must name the holds (holdIds) it keeps the data under';
  const rows = (await manager.query(
    `SELECT l.id::text AS id FROM legal_holds l JOIN retention_requests r ON r.subject_ref = l.subject_ref
     WHERE r.id = $1 AND l.scope = 'subject' AND l.released_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $3)
       AND (l.service IS NULL OR l.service = $2) AND l.id::text = ANY($4::text[])`,
    [requestId, target, now, holdIds.map((id) => id.toLowerCase())],
  )) as Array<{ id: string }>;
  const known = new Set(rows.map((r) => r.id));
  const unknown = holdIds.filter((id) => !known.has(id.toLowerCase()));
  return unknown.length > 0 ? `not a legal hold in force on this request's subject for this target: ${unknown.join(', ')}` : null;
}

export const newCommandId = (via: 'webhook' | 'manual'): string => `${via}:${randomUUID()}`;

export type { LedgerEntryInput };

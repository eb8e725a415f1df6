import { ConflictError, NotFoundError } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { encodeCursor, type RequestCursor } from './request-cursor';
import { type RequestRow, type RequestView, type TargetRow, toRequestView } from './request.views';

/** A target as views show it, with its kind (a Kafka service, a webhook or a manual task). */
const TARGET_COLUMNS = `t.service, t.status, t.attempts, t.last_sent_at, t.acked_at, t.ack, t.last_error, COALESCE(s.target_kind, 'kafka') AS kind
  FROM request_targets t LEFT JOIN registered_services s ON s.service = t.service`;

export async function getRequest(db: DataSource | EntityManager, id: string, now: Date = new Date()): Promise<RequestView> {
  const [row] = (await db.query(
    `SELECT id, kind, status, dry_run, subject_type, created_at, due_at, completed_at, not_before, cancelled_at FROM retention_requests WHERE id = $1`,
    [id],
  )) as RequestRow[];
  if (!row) throw new NotFoundError(`request ${id} does not exist`);
  const targets = (await db.query(`SELECT ${TARGET_COLUMNS} WHERE t.request_id = $1 ORDER BY t.service`, [id])) as TargetRow[];
  return toRequestView(row, targets, now);
}

export interface ListFilter {
  kind: 'erasure' | 'sweep';
  status?: RequestView['status'];
  from?: Date;
  to?: Date;
  subjectRef?: string;
  limit: number;
  /** Where the previous page ended (decoded and checked by the API: `decodeCursor`). */
  cursor?: RequestCursor;
}

/** A page of requests, newest first, with the cursor of the next page. */
export async function listRequests(db: DataSource, filter: ListFilter, now: Date = new Date()): Promise<{ items: RequestView[]; nextCursor: string | null }> {
  const where = ['kind = $1'];
  const params: unknown[] = [filter.kind];
  const add = (sql: (p: string) => string, value: unknown): void => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.status === 'overdue') add((p) => `status = 'pending' AND due_at < ${p}`, now);
  else if (filter.status === 'pending') add((p) => `status = 'pending' AND due_at >= ${p}`, now);
  else if (filter.status) add((p) => `status = ${p}`, filter.status);
  if (filter.from) add((p) => `created_at >= ${p}`, filter.from);
  if (filter.to) add((p) => `created_at < ${p}`, filter.to);
  if (filter.subjectRef) add((p) => `subject_ref = ${p}`, filter.subjectRef);
  if (filter.cursor) {
    params.push(filter.cursor.createdAt, filter.cursor.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(filter.limit + 1);
  const rows = (await db.query(
    `SELECT id, kind, status, dry_run, subject_type, created_at, due_at, completed_at, not_before, cancelled_at FROM retention_requests WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  )) as RequestRow[];
  const page = rows.slice(0, filter.limit);
  const targets = page.length
    ? ((await db.query(`SELECT t.request_id, ${TARGET_COLUMNS} WHERE t.request_id = ANY($1::uuid[]) ORDER BY t.service`, [page.map((r) => r.id)])) as Array<
        TargetRow & { request_id: string }
      >)
    : [];
  const last = page[page.length - 1];
  return {
    items: page.map((r) =>
      toRequestView(
        r,
        targets.filter((t) => t.request_id === r.id),
        now,
      ),
    ),
    nextCursor: rows.length > filter.limit && last ? encodeCursor({ createdAt: new Date(last.created_at), id: last.id }) : null,
  };
}

/** Sets the failed targets of a request back to pending for immediate redelivery. */
export async function retryFailedTargets(
  db: DataSource,
  id: string,
  now: Date,
  append: (m: EntityManager, services: string[]) => Promise<void>,
): Promise<string[]> {
  return db.transaction(async (manager) => {
    const [request] = (await manager.query(`SELECT status, subject_id, kind FROM retention_requests WHERE id = $1 FOR UPDATE`, [id])) as Array<{
      status: string;
      subject_id: string | null;
      kind: string;
    }>;
    if (!request) throw new NotFoundError(`request ${id} does not exist`);
    // Its subject id was forgotten (RETENTION_SUBJECT_ID_MAX_AGE_SECONDS): there is nothing to send.
    if (request.kind === 'erasure' && request.subject_id === null) {
      throw new ConflictError(`request ${id} no longer has its subject id (kept at most RETENTION_SUBJECT_ID_MAX_AGE_SECONDS); request the erasure again`);
    }
    const [rows] = (await manager.query(
      `UPDATE request_targets SET status = 'pending', next_attempt_at = $2, ack = NULL, acked_at = NULL WHERE request_id = $1 AND status = 'failed' RETURNING service`,
      [id, now],
    )) as [Array<{ service: string }>, number];
    const services = rows.map((r) => r.service);
    if (services.length === 0) throw new ConflictError(`request ${id} has no failed target to retry`);
    await manager.query(`UPDATE retention_requests SET status = 'pending' WHERE id = $1`, [id]);
    await append(manager, services);
    return services;
  });
}

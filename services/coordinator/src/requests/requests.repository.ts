import { NotFoundError } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { type RequestRow, type RequestView, type TargetRow, toRequestView } from './request.views';

export async function getRequest(db: DataSource | EntityManager, id: string, now: Date = new Date()): Promise<RequestView> {
  const [row] = (await db.query(
    `SELECT id, kind, status, dry_run, subject_type, created_at, due_at, completed_at FROM retention_requests WHERE id = $1`,
    [id],
  )) as RequestRow[];
  if (!row) throw new NotFoundError(`request ${id} does not exist`);
  const targets = (await db.query(
    `SELECT service, status, attempts, last_sent_at, acked_at, ack FROM request_targets WHERE request_id = $1 ORDER BY service`,
    [id],
  )) as TargetRow[];
  return toRequestView(row, targets, now);
}

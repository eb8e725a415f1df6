import type { Ack, TableResult } from '@retention/contracts';

/**
 * `held`: every target acked, some kept data under a legal hold; the request resumes when those holds end.
 * `scheduled`: an erasure in its grace period, nothing sent yet (it may be cancelled); `cancelled`: cancelled then.
 */
export type RequestStatus = 'scheduled' | 'pending' | 'completed' | 'failed' | 'held' | 'overdue' | 'cancelled';

export type TargetKind = 'kafka' | 'webhook' | 'manual';

export interface TargetView {
  service: string;
  /** How it is reached: a Kafka consumer, a webhook, or a manual task an operator confirms. */
  kind: TargetKind;
  status: 'scheduled' | 'pending' | 'completed' | 'failed' | 'held' | 'not_applicable' | 'retired' | 'cancelled';
  attempts: number;
  /** `null` while nothing was sent to it (scheduled, cancelled). */
  lastSentAt: string | null;
  ackedAt: string | null;
  tables: TableResult[];
  holdIds: string[];
  reason?: string;
  error?: Ack['error'];
  /** A webhook being retried: why its last delivery failed (an HTTP status or a connection error). */
  lastError?: string;
}

export interface RequestView {
  id: string;
  kind: 'erasure' | 'sweep';
  status: RequestStatus;
  dryRun: boolean;
  subjectType: string | null;
  createdAt: string;
  dueAt: string;
  /** When a scheduled erasure is (or was) sent: the end of its grace period; `null` when it had none. */
  notBefore: string | null;
  completedAt: string | null;
  cancelledAt: string | null;
  overdue: boolean;
  targets: TargetView[];
}

interface RequestRow {
  id: string;
  kind: 'erasure' | 'sweep';
  status: 'scheduled' | 'pending' | 'completed' | 'failed' | 'held' | 'cancelled';
  dry_run: boolean;
  subject_type: string | null;
  created_at: Date;
  due_at: Date;
  completed_at: Date | null;
  not_before: Date | null;
  cancelled_at: Date | null;
}

interface TargetRow {
  service: string;
  status: TargetView['status'];
  attempts: number;
  last_sent_at: Date;
  acked_at: Date | null;
  ack: Ack | null;
  kind?: TargetKind;
  last_error?: string | null;
}

/** A request as the API shows it: `overdue` is a pending request past its due date. */
export function toRequestView(r: RequestRow, targets: TargetRow[], now: Date): RequestView {
  const overdue = r.status === 'pending' && new Date(r.due_at) < now;
  return {
    id: r.id,
    kind: r.kind,
    status: overdue ? 'overdue' : r.status,
    dryRun: r.dry_run,
    subjectType: r.subject_type,
    createdAt: new Date(r.created_at).toISOString(),
    dueAt: new Date(r.due_at).toISOString(),
    notBefore: r.not_before ? new Date(r.not_before).toISOString() : null,
    completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
    cancelledAt: r.cancelled_at ? new Date(r.cancelled_at).toISOString() : null,
    overdue,
    targets: targets.map((t) => ({
      service: t.service,
      kind: t.kind ?? 'kafka',
      status: t.status,
      attempts: t.attempts,
      lastSentAt: t.attempts > 0 ? new Date(t.last_sent_at).toISOString() : null,
      ackedAt: t.acked_at ? new Date(t.acked_at).toISOString() : null,
      tables: t.ack?.tables ?? [],
      holdIds: t.ack?.holdIds ?? [],
      ...(t.ack?.reason ? { reason: t.ack.reason } : {}),
      ...(t.ack?.error ? { error: t.ack.error } : {}),
      ...(t.status === 'pending' && t.last_error ? { lastError: t.last_error } : {}),
    })),
  };
}

export type { RequestRow, TargetRow };

import { z } from 'zod';

/** Actions a second admin may have to approve before anything is sent. */
export const APPROVAL_RULES = ['sweep-first-run', 'bulk', 'hold-release'] as const;
export type ApprovalRule = (typeof APPROVAL_RULES)[number];

/** The most subjects one bulk call may carry (above: 413). */
export const BULK_MAX_SUBJECTS = 10_000;

/** The coordinator's approval settings (spread into its environment schema). */
export const approvalsEnv = {
  /**
   * Comma-separated rules that need a second admin's approval: `sweep-first-run` (a real sweep of a
   * policy that never ran for real, or changed since its last real run), `bulk` (a bulk erasure of
   * more than RETENTION_APPROVAL_BULK_THRESHOLD subjects), `hold-release`. Empty (the default): none.
   */
  RETENTION_APPROVALS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(APPROVAL_RULES, { message: `each rule must be one of ${APPROVAL_RULES.join(', ')}` })))
    .transform((rules) => new Set<ApprovalRule>(rules)),
  /** With the `bulk` rule: a bulk erasure call of more subjects than this waits for approval. */
  RETENTION_APPROVAL_BULK_THRESHOLD: z.coerce.number().int().min(0).max(BULK_MAX_SUBJECTS).default(1000),
  /**
   * A bulk erasure call is answered 503 (Retry-After) while the outbox holds more unpublished
   * messages than this: commands are published in order, so a larger backlog would hold up every
   * other command (a single erasure, a sweep, a hold) behind the bulk one.
   */
  RETENTION_BULK_MAX_BACKLOG: z.coerce.number().int().min(BULK_MAX_SUBJECTS).max(10_000_000).default(20_000),
};

export interface ApprovalSettings {
  rules: ReadonlySet<ApprovalRule>;
  bulkThreshold: number;
}

import { z } from 'zod';

/** A webhook's result, on its callback or in the 2xx answer to a delivery. */
export const ExternalAnswer = z
  .object({
    requestId: z.uuid('must be the requestId of the delivery'),
    /** `held`: the system keeps the data under the legal holds `holdIds` names (it was told of them: hold notices). */
    status: z.enum(['completed', 'not_applicable', 'failed', 'held']),
    holdIds: z.array(z.string().min(1).max(128)).min(1).max(20).optional(),
    deleted: z.int().min(0).max(1_000_000_000).optional(),
    anonymized: z.int().min(0).max(1_000_000_000).optional(),
    /** Why not applicable or failed: no personal data (it is kept in the ledger). */
    reason: z.string().min(1).max(500).optional(),
    error: z
      .object({ code: z.string().min(1).max(64), message: z.string().max(500), retriable: z.boolean() })
      .strict()
      .optional(),
  })
  .strict();
export type ExternalAnswer = z.infer<typeof ExternalAnswer>;

import { TransientError, ValidationError } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { TooManySubjectsError } from '../approvals/approval-errors';
import type { ApprovalsService } from '../approvals/approvals.service';
import { bulkErasureUseCase } from './bulk-erasure.use-case';
import type { RequestDeps } from './create-erasure-request.use-case';

/** The use case's checks before anything is written (the writes themselves: test/e2e/approvals.e2e.ts, bulk-erasure.e2e.ts). */
function useCase(backlog: number) {
  const queries: string[] = [];
  const dataSource = {
    query: async (sql: string) => {
      queries.push(sql);
      return [{ n: backlog }];
    },
    transaction: async () => {
      throw new Error('no transaction expected');
    },
  } as unknown as DataSource;
  const submit = bulkErasureUseCase({
    dataSource,
    approvals: {} as ApprovalsService,
    settings: { rules: new Set(), bulkThreshold: 1000 },
    maxBacklog: 20_000,
    onQueued: () => {},
  } as unknown as RequestDeps & { approvals: ApprovalsService; settings: { rules: Set<never>; bulkThreshold: number }; maxBacklog: number });
  return { submit, queries };
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => ({ line: i + 1, subject: { type: 'user', id: `u${i}` } }));

describe('bulk erasure, before anything is written', () => {
  it('refuses more than 10,000 subjects (413 too_many_subjects)', async () => {
    const { submit } = useCase(0);
    await expect(submit({ lines: lines(10_001), dryRun: false, requestedBy: 'requester:1' })).rejects.toBeInstanceOf(TooManySubjectsError);
  });

  it('refuses a line number given twice, naming both items', async () => {
    const { submit } = useCase(0);
    const error = await submit({ lines: [...lines(2), { line: 1, subject: { type: 'user', id: 'x' } }], dryRun: false, requestedBy: 'requester:1' }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues).toEqual([{ path: 'items.2.line', message: 'line 1 appears twice (also items.0.line)' }]);
  });

  it('answers 503 (transient, Retry-After) while the outbox holds more unpublished commands than RETENTION_BULK_MAX_BACKLOG', async () => {
    const { submit, queries } = useCase(20_001);
    const error = await submit({ lines: lines(3), dryRun: false, requestedBy: 'requester:1' }).catch((e) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('20001 commands wait to be published (RETENTION_BULK_MAX_BACKLOG 20000)');
    expect(queries[0]).toContain('FROM retention_outbox WHERE parked_at IS NULL');
  });
});

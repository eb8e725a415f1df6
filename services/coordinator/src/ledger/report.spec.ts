import { describe, expect, it } from 'vitest';
import { type LedgerReport, reportToCsv } from './report';

describe('ledger report as CSV', () => {
  it('writes one line per request, target and table, quoted, with formulas neutralized', () => {
    const report: LedgerReport = {
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      generatedAt: '2026-02-01T00:00:00.000Z',
      summary: { total: 1, completed: 1, pending: 0, overdue: 0, failed: 0, held: 0, keptUnderHold: 0, dryRun: 0, scheduled: 0, cancelled: 0 },
      requests: [
        {
          id: 'r1',
          kind: 'erasure',
          status: 'completed',
          dryRun: false,
          subjectType: 'user',
          subjectRef: 'ab',
          createdAt: 'c',
          dueAt: 'd',
          notBefore: null,
          cancelledAt: null,
          completedAt: 'e',
          overdue: false,
          targets: [
            {
              service: 'orders',
              kind: 'kafka',
              status: 'completed',
              attempts: 1,
              lastSentAt: 'x',
              ackedAt: 'y',
              holdIds: [],
              reason: '=HYPERLINK("x")',
              tables: [
                { table: 'orders', action: 'anonymize', matched: 2, deleted: 0, anonymized: 2, archived: 0, held: 0 },
                { table: 'notes', action: 'delete', matched: 1, deleted: 1, anonymized: 0, archived: 0, held: 0 },
              ],
            },
            { service: 'sessions', kind: 'kafka', status: 'not_applicable', attempts: 1, lastSentAt: 'x', ackedAt: 'y', holdIds: [], tables: [] },
          ],
        },
      ],
    };
    const lines = reportToCsv(report).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain('"orders","","anonymize","2","0","2"');
    expect(lines[1]).toContain(`"'=HYPERLINK(""x"")"`);
    expect(lines[3]).toContain('"sessions","not_applicable"');
  });

  it('shows a held request with its held target (per-table kept counts, hold ids) beside a target that completed', () => {
    const report: LedgerReport = {
      from: 'a',
      to: 'b',
      generatedAt: 'b',
      summary: { total: 1, completed: 0, pending: 0, overdue: 0, failed: 0, held: 1, keptUnderHold: 1, dryRun: 0, scheduled: 0, cancelled: 0 },
      requests: [
        {
          id: 'r2',
          kind: 'erasure',
          status: 'held',
          dryRun: false,
          subjectType: 'user',
          subjectRef: 'cd',
          createdAt: 'c',
          dueAt: 'd',
          notBefore: null,
          cancelledAt: null,
          completedAt: null,
          overdue: false,
          targets: [
            {
              service: 'orders',
              kind: 'kafka',
              status: 'completed',
              attempts: 1,
              lastSentAt: 'x',
              ackedAt: 'y',
              holdIds: [],
              tables: [{ table: 'orders', action: 'anonymize', matched: 1, deleted: 0, anonymized: 1, archived: 0, held: 0 }],
            },
            {
              service: 'sessions',
              kind: 'kafka',
              status: 'held',
              attempts: 1,
              lastSentAt: 'x',
              ackedAt: 'y',
              holdIds: ['h1', 'h2'],
              reason: 'the subject is under legal hold',
              tables: [{ table: 'sessions', action: 'delete', matched: 3, deleted: 0, anonymized: 0, archived: 0, held: 3 }],
            },
          ],
        },
      ],
    };
    const lines = reportToCsv(report).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^"r2","erasure","held",.*"orders","completed","1","y","orders","","anonymize","1","0","1","0","0",""/);
    expect(lines[2]).toMatch(
      /^"r2","erasure","held",.*"sessions","held","1","y","sessions","","delete","3","0","0","0","3","h1 h2","the subject is under legal hold","",""$/,
    );
  });
});

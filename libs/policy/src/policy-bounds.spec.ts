import { ConfigError } from '@retention/contracts';
import { DataSource, EntitySchema } from 'typeorm';
import { beforeAll, describe, expect, it } from 'vitest';
import { bindPolicies } from './bind-policies';
import { definePolicies, type PolicyFileInput, type Policies } from './define-policies';
import { planSweep } from './jobs';
import { shortestPeriodDays } from './period';
import { assertSweepAsOf, CutoffInFutureError, sweepInstant } from './sweep-as-of';

const Logs = new EntitySchema({
  name: 'logs',
  columns: { id: { type: 'int', primary: true }, created_at: { type: 'timestamptz' }, user_id: { type: 'text' } },
});

/** The entity metadata TypeORM builds at start, without a database connection. */
async function metadataOnly(): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', entities: [Logs] });
  await (dataSource as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return dataSource;
}

const rule = {
  name: 'logs',
  table: 'logs',
  timestampColumn: 'created_at',
  retention: { days: 30 },
  action: 'delete' as const,
  legalBasis: 'Legitimate interest',
};
const models = { name: 'models', path: 'models', retention: { days: 10 }, suffixes: ['.pt'], legalBasis: 'Legitimate interest' };

function issues(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('policy bounds at load', () => {
  let dataSource: DataSource;
  beforeAll(async () => {
    dataSource = await metadataOnly();
  });

  it('refuses a rule without a timestamp column, naming the policy', () => {
    const { timestampColumn: _, ...unbound } = rule;
    expect(issues(() => definePolicies({ service: 'svc', rules: [unbound] } as unknown as PolicyFileInput))).toEqual([
      'rules.0.timestampColumn: required: policy "logs" has no timestamp column, so nothing would bound what a sweep takes (every row would be due)',
    ]);
  });

  it('refuses it in bindPolicies too, for policies not made by definePolicies', async () => {
    const handMade = { service: 'svc', subjects: {}, rules: [{ ...rule, timestampColumn: undefined, conditions: [], batchSize: 10 }], directories: [] };
    expect(issues(() => bindPolicies(handMade as unknown as Policies, dataSource, { hashKey: 'k' }))).toEqual([
      'rules[0].timestampColumn: policy "logs" has no timestamp column: nothing would bound what a sweep takes (every row would be due)',
    ]);
  });

  it('refuses a period shorter than the floor (default 1 day), for table and directory rules, naming each policy', () => {
    expect(issues(() => definePolicies({ service: 'svc', rules: [rule], directories: [models] }))).toEqual([]);
    expect(issues(() => definePolicies({ service: 'svc', rules: [rule], directories: [models] }, { minPeriodDays: 14 }))).toEqual([
      'directories[0].retention: policy "models" keeps data at least 10 day(s), shorter than the floor of 14 day(s) (a month counts as 28 days, a year as 365)',
    ]);
    expect(issues(() => definePolicies({ service: 'svc', rules: [{ ...rule, retention: { months: 1 } }] }, { minPeriodDays: 30 }))).toEqual([
      'rules[0].retention: policy "logs" keeps data at least 28 day(s), shorter than the floor of 30 day(s) (a month counts as 28 days, a year as 365)',
    ]);
  });

  it('applies the service floor when binding (RETENTION_MIN_PERIOD_DAYS)', () => {
    const policies = definePolicies({ service: 'svc', rules: [rule] });
    expect(() => bindPolicies(policies, dataSource, { hashKey: 'k' })).not.toThrow();
    expect(() => bindPolicies(policies, dataSource, { hashKey: 'k', minPeriodDays: 30 })).not.toThrow();
    expect(issues(() => bindPolicies(policies, dataSource, { hashKey: 'k', minPeriodDays: 31 }))).toEqual([
      'rules[0].retention: policy "logs" keeps data at least 30 day(s), shorter than the floor of 31 day(s) (a month counts as 28 days, a year as 365)',
    ]);
  });

  it('measures a period by its shortest calendar length', () => {
    expect(shortestPeriodDays({ days: 1 })).toBe(1);
    expect(shortestPeriodDays({ months: 13 })).toBe(364);
    expect(shortestPeriodDays({ years: 7, days: 2 })).toBe(2557);
  });
});

describe('sweep cutoffs never reach the future', () => {
  const now = new Date('2026-06-15T12:00:00.000Z');
  const skew = 300_000;

  it('refuses an asOf later than now plus the clock skew, with a stable non-retriable code', () => {
    const refused = (() => {
      try {
        assertSweepAsOf(new Date('2100-01-01T00:00:00Z'), now, skew);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(CutoffInFutureError);
    expect(refused).toMatchObject({ code: 'cutoff_in_future', retriable: false });
    expect((refused as Error).message).toContain('2100-01-01T00:00:00.000Z');
    expect(() => assertSweepAsOf(new Date(now.getTime() + skew + 1), now, skew)).toThrow(CutoffInFutureError);
    expect(() => assertSweepAsOf(new Date(now.getTime() + skew), now, skew)).not.toThrow();
    expect(() => assertSweepAsOf(new Date('2000-01-01T00:00:00Z'), now, skew)).not.toThrow();
    expect(() => assertSweepAsOf(new Date(Number.NaN), now, skew)).toThrow(CutoffInFutureError);
  });

  it('computes cutoffs from the earlier of asOf and now', async () => {
    expect(sweepInstant(new Date(now.getTime() + 60_000), now)).toEqual(now);
    expect(sweepInstant(new Date('2026-01-01T00:00:00Z'), now)).toEqual(new Date('2026-01-01T00:00:00Z'));

    const bound = bindPolicies(definePolicies({ service: 'svc', rules: [rule] }), await metadataOnly(), { hashKey: 'k' });
    const cutoffOf = (asOf: Date): string => {
      const plan = planSweep(bound, { asOf, now }, []);
      if (plan.status !== 'run' || plan.steps[0]?.kind !== 'table') throw new Error('expected a table step');
      const params: unknown[] = [];
      plan.steps[0].where({ bind: (v: unknown) => `$${params.push(v)}` } as never);
      return params[0] as string;
    };
    expect(cutoffOf(new Date('2100-01-01T00:00:00Z'))).toBe('2026-05-16T12:00:00.000Z');
    expect(cutoffOf(new Date(now.getTime() + 60_000))).toBe('2026-05-16T12:00:00.000Z');
    expect(cutoffOf(new Date('2026-03-31T00:00:00Z'))).toBe('2026-03-01T00:00:00.000Z');
  });
});

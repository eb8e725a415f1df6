import { bindPolicies, buildManifest, definePolicies } from '@retention/policy';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { AnalyticsEvent } from './analytics-event.entity';
import { policies } from './retention.policy';

/** The entity metadata TypeORM builds at start, without a database connection. */
async function metadataOnly(): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', entities: [AnalyticsEvent] });
  await (dataSource as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return dataSource;
}

const rule = policies.rules[0]!;

describe('analytics retention policy', () => {
  it('matches the entities, as the service checks at start', async () => {
    const bound = bindPolicies(policies, await metadataOnly(), { hashKey: 'unit-test-hash-key-0123' });
    expect(bound.tables.get('analytics_events')?.columns.get('occurred_at')?.type).toBe('timestamptz');
  });

  it('deletes product events after 13 calendar months, and everything of an erased user', () => {
    expect(buildManifest(policies, '0.1.0').policies).toEqual([expect.objectContaining({ name: 'product_events', period: 'P13M', action: 'delete' })]);
    expect(policies.subjects.user).toEqual([expect.objectContaining({ table: 'analytics_events', column: 'user_id', action: 'delete' })]);
  });

  it('refuses a rule on a column the table does not have, naming it', async () => {
    const typo = definePolicies({ service: 'analytics', rules: [{ ...rule, timestampColumn: 'occured_at' }] });
    const dataSource = await metadataOnly();
    expect(() => bindPolicies(typo, dataSource, { hashKey: 'unit-test-hash-key-0123' })).toThrow(
      /rules\[0\]\.timestampColumn: table "analytics_events" has no column "occured_at"/,
    );
  });

  it('refuses a zero-length period', () => {
    expect(() => definePolicies({ service: 'analytics', rules: [{ ...rule, retention: { months: 0 } }] })).toThrow(
      /rules\.0\.retention: must be longer than zero/,
    );
  });
});

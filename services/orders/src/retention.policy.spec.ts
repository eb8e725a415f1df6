import { bindPolicies, buildManifest, definePolicies, type PolicyFileInput } from '@retention/policy';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { Order } from './order.entity';
import { policies } from './retention.policy';

/** The entity metadata TypeORM builds at start, without a database connection. */
async function metadataOnly(): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', entities: [Order] });
  await (dataSource as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return dataSource;
}

const rule = policies.rules[0]!;
const valid: PolicyFileInput = {
  service: 'orders',
  subjects: { user: { table: 'orders', column: 'customer_id', action: 'anonymize' } },
  rules: [{ ...rule, retention: { years: 7 } }],
};

describe('orders retention policy', () => {
  it('matches the entities, as the service checks at start', async () => {
    const bound = bindPolicies(policies, await metadataOnly(), { hashKey: 'unit-test-hash-key-0123' });
    expect(bound.tables.get('orders')?.primaryKey.name).toBe('id');
  });

  it('keeps amounts: anonymizes the person, including the subject column, and never deletes', () => {
    expect(rule).toMatchObject({ action: 'anonymize', markerColumn: 'anonymized_at', retention: { years: 7 } });
    expect(Object.keys(rule.anonymize ?? {})).not.toContain('amount_cents');
    expect(policies.subjects.user).toEqual([
      expect.objectContaining({ table: 'orders', column: 'customer_id', action: 'anonymize', anonymize: rule.anonymize }),
    ]);
    expect(rule.anonymize?.customer_id).toBe('surrogate');
  });

  it('tells an auditor the period and legal basis', () => {
    const manifest = buildManifest(policies, '0.1.0');
    expect(manifest.policies).toEqual([
      expect.objectContaining({ name: 'purchase_records', period: 'P7Y', action: 'anonymize', legalBasis: 'Legal obligation (tax records, 7 years)' }),
    ]);
  });

  it('refuses an anonymize rule without a marker column, naming the field', () => {
    const { markerColumn: _omit, ...withoutMarker } = rule;
    expect(() => definePolicies({ ...valid, rules: [withoutMarker] })).toThrow(/rules\.0\.markerColumn: required when action is anonymize/);
  });

  it('refuses an erasure that would leave customer_id readable', () => {
    const { customer_id: _omit, ...keepsId } = rule.anonymize!;
    expect(() => definePolicies({ ...valid, rules: [{ ...rule, anonymize: keepsId }] })).toThrow(
      /subjects\.user\[0\]\.anonymize: must rewrite the subject column "customer_id"/,
    );
  });

  it('refuses a strategy that does not fit the column, naming it', async () => {
    const bad = definePolicies({ ...valid, rules: [{ ...rule, anonymize: { ...rule.anonymize, customer_name: 'null' } }] });
    const dataSource = await metadataOnly();
    expect(() => bindPolicies(bad, dataSource, { hashKey: 'unit-test-hash-key-0123' })).toThrow(
      /rules\[0\]\.anonymize\.customer_name: strategy null needs a nullable column/,
    );
  });
});

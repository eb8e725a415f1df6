import { bindPolicies, buildManifest, definePolicies } from '@retention/policy';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { policies } from './retention.policy';
import { SupportTicket } from './support-ticket.entity';

/** The entity metadata TypeORM builds at start, without a database connection. */
async function metadataOnly(): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', entities: [SupportTicket] });
  await (dataSource as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return dataSource;
}

const rule = policies.rules[0]!;

describe('support retention policy', () => {
  it('matches the entities, as the service checks at start', async () => {
    const bound = bindPolicies(policies, await metadataOnly(), { hashKey: 'unit-test-hash-key-0123' });
    expect(bound.tables.has('support_tickets')).toBe(true);
  });

  it('deletes only resolved tickets, 2 years after resolution (a structured condition, not SQL)', () => {
    expect(rule).toMatchObject({
      timestampColumn: 'resolved_at',
      retention: { years: 2 },
      action: 'delete',
      conditions: [{ column: 'status', op: 'eq', value: 'resolved' }],
    });
    expect(buildManifest(policies, '0.1.0').policies).toEqual([
      expect.objectContaining({ name: 'resolved_tickets', period: 'P2Y', conditions: rule.conditions }),
    ]);
  });

  it('refuses a malformed condition, naming the field', () => {
    expect(() => definePolicies({ service: 'support', rules: [{ ...rule, conditions: [{ column: 'status', op: 'in', value: 'resolved' }] }] })).toThrow(
      /rules\.0\.conditions\.0\.value: must be a list for operator in/,
    );
  });

  it('refuses a condition on a column the table does not have', async () => {
    const typo = definePolicies({ service: 'support', rules: [{ ...rule, conditions: [{ column: 'state', op: 'eq', value: 'resolved' }] }] });
    const dataSource = await metadataOnly();
    expect(() => bindPolicies(typo, dataSource, { hashKey: 'unit-test-hash-key-0123' })).toThrow(
      /rules\[0\]\.conditions\[0\]\.column: table "support_tickets" has no column "state"/,
    );
  });
});

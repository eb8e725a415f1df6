import type { ServiceRegistered } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { unregisteredHoldNames } from './hold-names';

const manifest = (service: string, subjectTable: string, policy: string, policyTable: string): ServiceRegistered => ({
  service,
  version: '1',
  policyHash: 'h',
  publishedAt: '2026-01-01T00:00:00Z',
  subjects: [{ type: 'user', tables: [{ table: subjectTable, column: 'user_id', action: 'delete' }] }],
  policies: [{ name: policy, table: policyTable, timestampColumn: 'created_at', period: 'P90D', action: 'delete', legalBasis: 'x', conditions: [] }],
});

const manifests = [manifest('sessions', 'sessions', 'session_logs', 'sessions'), manifest('orders', 'orders', 'purchase_records', 'order_archive')];

describe('names a hold may use', () => {
  it.each([
    [{ scope: 'subject', subject: { type: 'user' } }],
    [{ scope: 'subject', subject: { type: 'user' }, service: 'orders' }],
    [{ scope: 'policy', policy: 'purchase_records' }],
    [{ scope: 'policy', policy: 'purchase_records', service: 'orders' }],
    [{ scope: 'record', service: 'orders', table: 'orders' }],
    [{ scope: 'record', service: 'orders', table: 'order_archive' }],
  ] as const)('accepts what is registered: %j', (hold) => {
    expect(unregisteredHoldNames(hold, manifests)).toEqual([]);
  });

  it.each([
    [{ scope: 'subject', subject: { type: 'usr' } }, 'subject.type'],
    [{ scope: 'subject', subject: { type: 'user' }, service: 'order' }, 'service'],
    [{ scope: 'policy', policy: 'purchase_record' }, 'policy'],
    [{ scope: 'policy', policy: 'session_logs', service: 'orders' }, 'policy'],
    [{ scope: 'record', service: 'sesions', table: 'sessions' }, 'service'],
    [{ scope: 'record', service: 'orders', table: 'sessions' }, 'table'],
  ] as const)('refuses a name nothing registered has: %j', (hold, path) => {
    expect(unregisteredHoldNames(hold, manifests)).toEqual([{ path, message: expect.stringMatching(/^no registered service/) }]);
  });

  it('refuses everything while no service is registered', () => {
    expect(unregisteredHoldNames({ scope: 'policy', policy: 'session_logs' }, [])).toHaveLength(1);
  });
});

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { platformAcls, type PlatformAcl } from './acls';

const acls = platformAcls({ prefix: 't1.', services: ['orders', 'sessions'] });
const can = (user: string, resource: PlatformAcl['resource'], name: string, operation: PlatformAcl['operation']): boolean =>
  acls.some(
    (a) =>
      a.principal === `User:${user}` &&
      a.resource === resource &&
      a.operation === operation &&
      (a.pattern === 'literal' ? a.name === name : name.startsWith(a.name)),
  );

describe('platformAcls', () => {
  it('lets only the coordinator write commands and holds, and read acks', () => {
    for (const user of ['orders', 'sessions']) {
      expect(can(user, 'topic', 't1.data.retention', 'write')).toBe(false);
      expect(can(user, 'topic', 't1.data.retention.holds', 'write')).toBe(false);
      expect(can(user, 'topic', 't1.data.retention.ack', 'read')).toBe(false);
    }
    expect(can('coordinator', 'topic', 't1.data.retention', 'write')).toBe(true);
    expect(can('coordinator', 'topic', 't1.data.retention.holds', 'write')).toBe(true);
    expect(can('coordinator', 'topic', 't1.data.retention.ack', 'read')).toBe(true);
  });

  it('lets a service read commands and holds and write acks, registrations and dead letters', () => {
    expect(can('orders', 'topic', 't1.data.retention', 'read')).toBe(true);
    expect(can('orders', 'topic', 't1.data.retention.holds', 'read')).toBe(true);
    expect(can('orders', 'topic', 't1.data.retention.ack', 'write')).toBe(true);
    expect(can('orders', 'topic', 't1.data.retention.registry', 'write')).toBe(true);
    expect(can('orders', 'topic', 't1.data.retention.dlq', 'write')).toBe(true);
    expect(can('orders', 'topic', 't1.data.retention.dlq', 'read')).toBe(false);
  });

  it('gives each service its own groups only, and the coordinator Describe on them', () => {
    expect(can('orders', 'group', 't1.retention.orders', 'read')).toBe(true);
    expect(can('orders', 'group', 't1.retention.orders.holds.a1b2', 'read')).toBe(true);
    expect(can('orders', 'group', 't1.retention.sessions', 'read')).toBe(false);
    expect(can('orders', 'group', 't1.retention.coordinator.acks', 'read')).toBe(false);
    expect(can('coordinator', 'group', 't1.retention.coordinator.acks', 'read')).toBe(true);
    expect(can('coordinator', 'group', 't1.retention.coordinator.registry.x9', 'read')).toBe(true);
    expect(can('coordinator', 'group', 't1.retention.orders', 'describe')).toBe(true);
    expect(can('coordinator', 'group', 't1.retention.orders', 'read')).toBe(false);
  });

  it('lets only the coordinator write the ledger checkpoints; it and the auditors read them, services do not see them', () => {
    expect(can('coordinator', 'topic', 't1.data.retention.ledger.checkpoints', 'write')).toBe(true);
    expect(can('coordinator', 'topic', 't1.data.retention.ledger.checkpoints', 'read')).toBe(true);
    expect(can('coordinator', 'group', 't1.retention.coordinator.checkpoints.x9', 'read')).toBe(true);
    expect(can('auditor', 'topic', 't1.data.retention.ledger.checkpoints', 'read')).toBe(true);
    expect(can('auditor', 'topic', 't1.data.retention.ledger.checkpoints', 'write')).toBe(false);
    for (const user of ['orders', 'sessions']) {
      for (const op of ['read', 'write', 'describe'] as const) expect(can(user, 'topic', 't1.data.retention.ledger.checkpoints', op)).toBe(false);
    }
  });

  it('honours the prefix: nothing is granted outside it', () => {
    expect(acls.every((a) => a.name.startsWith('t1.'))).toBe(true);
    expect(platformAcls({ services: ['orders'] }).some((a) => a.name === 'data.retention')).toBe(true);
  });
});

describe('docs/security.md', () => {
  it('shows exactly the ACLs that platformAcls creates', () => {
    const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/security.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### ACLs'), doc.indexOf('The same by topic'));
    const rows = [...section.matchAll(/^\| `(User:[^`]+)` +\| (topic|group) +\| `([^`]+)` +\| (literal|prefixed) +\| (\w+) +\|$/gm)].map((m) => ({
      principal: m[1],
      resource: m[2],
      name: m[3],
      pattern: m[4],
      operation: m[5]!.toLowerCase(),
    }));
    expect(rows).toEqual(platformAcls({ services: ['<service>'] }));
  });
});

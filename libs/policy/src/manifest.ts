import { createHash } from 'node:crypto';
import type { ServiceRegistered } from '@retention/contracts';
import type { Policies } from './define-policies';
import { toIsoPeriod } from './period';

/**
 * The manifest a service publishes to the registry: what subject data it stores and which
 * policies it applies, with a hash that identifies this version of the rules.
 */
export function buildManifest(policies: Policies, version: string, now: Date = new Date()): ServiceRegistered {
  const subjects = Object.entries(policies.subjects).map(([type, tables]) => ({
    type,
    tables: tables.map((t) => ({ table: t.table, column: t.column, action: t.action })),
  }));
  const rules = policies.rules.map((r) => ({
    name: r.name,
    table: r.table,
    timestampColumn: r.timestampColumn,
    period: toIsoPeriod(r.retention),
    action: r.action,
    legalBasis: r.legalBasis,
    conditions: r.conditions,
    ...(r.schedule ? { schedule: r.schedule } : {}),
  }));
  const directories = policies.directories.map((d) => ({
    name: d.name,
    table: d.name,
    timestampColumn: 'mtime',
    period: toIsoPeriod(d.retention),
    action: 'delete' as const,
    legalBasis: d.legalBasis,
    conditions: [],
    ...(d.schedule ? { schedule: d.schedule } : {}),
    directory: { path: d.path, suffixes: d.suffixes },
  }));
  const policyHash = createHash('sha256')
    .update(JSON.stringify({ subjects: policies.subjects, rules: policies.rules, directories: policies.directories }))
    .digest('hex')
    .slice(0, 32);
  return { service: policies.service, version, subjects, policies: [...rules, ...directories], policyHash, publishedAt: now.toISOString() };
}

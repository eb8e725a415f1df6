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
    definitionHash: definitionHash(r),
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
    definitionHash: definitionHash(d),
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

/** The hash of everything a rule says, in a stable key order (JSON of plain data). */
function definitionHash(rule: object): string {
  const stable = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(stable)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, x]) => x !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, x]) => [k, stable(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(stable(rule)))
    .digest('hex');
}

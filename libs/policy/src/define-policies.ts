import { Action, Condition, ConfigError, Identifier, type Issue, PolicyName, ServiceName, SubjectType, toIssues } from '@retention/contracts';
import { z } from 'zod';
import type { Period } from './period';
import { DEFAULT_MIN_PERIOD_DAYS, policyBoundIssues } from './policy-bounds';
import { type StrategyName, strategyNames } from './strategies';

const StrategySpec = z.union([
  z.enum(strategyNames as [StrategyName, ...StrategyName[]]),
  z.object({ strategy: z.literal('redact'), text: z.string().min(1).max(200) }),
]);
export type ColumnStrategy = z.infer<typeof StrategySpec>;

const AnonymizeMap = z.record(Identifier, StrategySpec).refine((m) => Object.keys(m).length > 0, 'must name at least one column');

const PeriodSpec = z
  .object({ years: z.int().min(0).max(100).optional(), months: z.int().min(0).max(1200).optional(), days: z.int().min(0).max(36500).optional() })
  .strict()
  .refine((p) => (p.years ?? 0) + (p.months ?? 0) + (p.days ?? 0) > 0, 'must be longer than zero (years, months and/or days)');

/**
 * Files that belong to a row: the column holds a path under the service's files root. When the
 * row is deleted, the file is deleted after the transaction commits (never before).
 */
const FilesSpec = z.object({ column: Identifier }).strict();

const SubjectTableSpec = z
  .object({
    table: Identifier,
    column: Identifier,
    action: z.enum(['delete', 'anonymize']).default('delete'),
    /** For `anonymize`: the columns to rewrite; defaults to the anonymize map of a rule on the same table. */
    anonymize: AnonymizeMap.optional(),
    files: FilesSpec.optional(),
  })
  .strict()
  .refine((t) => !(t.files && t.action !== 'delete'), { message: 'only allowed when action is delete', path: ['files'] });

/** Files in a directory (under the files root) removed by age, only with an allowed suffix. */
const DirectorySpec = z
  .object({
    name: PolicyName,
    /** Directory relative to the service's files root. */
    path: z
      .string()
      .min(1)
      .max(500)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be relative to the files root, without ".."'),
    retention: PeriodSpec,
    /** Only files ending in one of these are ever deleted (e.g. ".pt", ".onnx"). */
    suffixes: z.array(z.string().regex(/^\.[A-Za-z0-9._-]{1,20}$/, 'must look like ".ext"')).min(1),
    legalBasis: z.string().min(3).max(500),
    schedule: z.string().max(100).optional(),
  })
  .strict();

const RuleSpec = z
  .object({
    name: PolicyName,
    table: Identifier,
    timestampColumn: Identifier,
    retention: PeriodSpec,
    action: Action,
    legalBasis: z.string().min(3, 'must say why the data is kept (e.g. "Legal obligation (tax records)")').max(500),
    conditions: z.array(Condition).default([]),
    batchSize: z.int().min(1).max(50_000).optional(),
    anonymize: AnonymizeMap.optional(),
    /**
     * For `anonymize`: a nullable timestamp column the executor sets when it rewrites a row, so a
     * row is anonymized once and the next sweep skips it.
     */
    markerColumn: Identifier.optional(),
    /** For `archive`: the table rows are copied to before they are deleted (same columns). */
    archiveTable: Identifier.optional(),
    /** Cron expression (UTC) for this policy's scheduled sweep; default: the coordinator's. */
    schedule: z.string().max(100).optional(),
    files: FilesSpec.optional(),
    /**
     * Per-record period: an integer column of days, measured from `timestampColumn`; rows where it
     * is NULL keep `retention` (which must then be in days).
     */
    retentionDaysColumn: Identifier.optional(),
    /**
     * Per-record deadline: a date or timestamp column; a row is due once it is in the past. Rows
     * where it is NULL keep `retention` from `timestampColumn` (which must then be in days).
     */
    expiresAtColumn: Identifier.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.retentionDaysColumn && r.expiresAtColumn)
      ctx.addIssue({ code: 'custom', path: ['expiresAtColumn'], message: 'a rule takes its deadline from retentionDaysColumn or expiresAtColumn, not both' });
    if ((r.retentionDaysColumn || r.expiresAtColumn) && (r.retention.years || r.retention.months))
      ctx.addIssue({
        code: 'custom',
        path: ['retention'],
        message: 'with a per-record column, retention is the default for NULL and must be given in days only (e.g. { days: 90 })',
      });
    if (r.files && r.action !== 'delete')
      ctx.addIssue({ code: 'custom', path: ['files'], message: `only allowed when action is delete (action is ${r.action})` });
    if (r.action === 'anonymize' && !r.anonymize) ctx.addIssue({ code: 'custom', path: ['anonymize'], message: 'required when action is anonymize' });
    if (r.action === 'anonymize' && !r.markerColumn)
      ctx.addIssue({ code: 'custom', path: ['markerColumn'], message: 'required when action is anonymize (a nullable timestamptz column)' });
    if (r.action === 'archive' && !r.archiveTable) ctx.addIssue({ code: 'custom', path: ['archiveTable'], message: 'required when action is archive' });
    if (r.action !== 'anonymize' && r.anonymize)
      ctx.addIssue({ code: 'custom', path: ['anonymize'], message: `only allowed when action is anonymize (action is ${r.action})` });
    for (const [i, c] of r.conditions.entries()) {
      const needsValue = !['is_null', 'is_not_null'].includes(c.op);
      const isList = ['in', 'not_in'].includes(c.op);
      if (needsValue && c.value === undefined) ctx.addIssue({ code: 'custom', path: ['conditions', i, 'value'], message: `required for operator ${c.op}` });
      if (!needsValue && c.value !== undefined) ctx.addIssue({ code: 'custom', path: ['conditions', i, 'value'], message: `not allowed for operator ${c.op}` });
      if (needsValue && isList !== Array.isArray(c.value))
        ctx.addIssue({
          code: 'custom',
          path: ['conditions', i, 'value'],
          message: isList ? `must be a list for operator ${c.op}` : `must be a single value for operator ${c.op}`,
        });
    }
  });

const PolicyFileSpec = z
  .object({
    service: ServiceName,
    subjects: z.record(SubjectType, z.union([SubjectTableSpec, z.array(SubjectTableSpec).min(1)])).default({}),
    rules: z.array(RuleSpec).default([]),
    directories: z.array(DirectorySpec).default([]),
    defaults: z.object({ batchSize: z.int().min(1).max(50_000).default(1000) }).default({ batchSize: 1000 }),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    for (const [i, r] of f.rules.entries()) {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate policy name "${r.name}"` });
      seen.add(r.name);
    }
    for (const [i, d] of f.directories.entries()) {
      if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: ['directories', i, 'name'], message: `duplicate policy name "${d.name}"` });
      seen.add(d.name);
    }
  });

export type PolicyFileInput = z.input<typeof PolicyFileSpec>;

export interface SubjectTable {
  table: string;
  column: string;
  action: 'delete' | 'anonymize';
  anonymize?: Record<string, ColumnStrategy>;
  /** Set by an anonymizing erasure too, so the table's sweep does not anonymize the row again. */
  markerColumn?: string;
  files?: { column: string };
}

export interface DirectoryRule {
  name: string;
  path: string;
  retention: Period;
  suffixes: string[];
  legalBasis: string;
  schedule?: string;
}

export interface Rule {
  name: string;
  table: string;
  timestampColumn: string;
  retention: Period;
  action: Action;
  legalBasis: string;
  conditions: Condition[];
  batchSize: number;
  anonymize?: Record<string, ColumnStrategy>;
  markerColumn?: string;
  archiveTable?: string;
  schedule?: string;
  files?: { column: string };
  /** Per-record period in days (integer column); NULL rows keep `retention`. */
  retentionDaysColumn?: string;
  /** Per-record deadline (date or timestamp column); NULL rows keep `retention`. */
  expiresAtColumn?: string;
}

/** A service's validated policy file. */
export interface Policies {
  service: string;
  subjects: Readonly<Record<string, readonly SubjectTable[]>>;
  rules: readonly Rule[];
  directories: readonly DirectoryRule[];
}

export interface DefinePoliciesOptions {
  /** Refuse a period shorter than this many days (default 1); the service's floor is applied again by {@link bindPolicies}. */
  minPeriodDays?: number;
}

/**
 * Declares a service's retention policies. Checks their shape at once (a bad file fails at
 * import with every problem named); {@link bindPolicies} later checks them against the entities.
 */
export function definePolicies(input: PolicyFileInput, options: DefinePoliciesOptions = {}): Policies {
  const parsed = PolicyFileSpec.safeParse(input);
  if (!parsed.success) {
    const service = typeof input === 'object' && input && 'service' in input ? String(input.service) : '?';
    throw new ConfigError(
      `invalid retention policies of service "${service}"`,
      toIssues(parsed.error).map((issue) => nameUnboundRule(issue, input)),
    );
  }
  const file = parsed.data;
  const rules: Rule[] = file.rules.map((r) => ({ ...r, batchSize: r.batchSize ?? file.defaults.batchSize }));
  const subjects = Object.fromEntries(
    Object.entries(file.subjects).map(([type, spec]) => [
      type,
      (Array.isArray(spec) ? spec : [spec]).map((t) => ({
        ...t,
        anonymize: t.action === 'anonymize' ? (t.anonymize ?? rules.find((r) => r.table === t.table && r.anonymize)?.anonymize) : undefined,
        markerColumn: t.action === 'anonymize' ? rules.find((r) => r.table === t.table && r.markerColumn)?.markerColumn : undefined,
      })),
    ]),
  );
  const bounds = policyBoundIssues(file, options.minPeriodDays ?? DEFAULT_MIN_PERIOD_DAYS);
  const subjectIssues = Object.entries(subjects).flatMap(([type, tables]) =>
    tables.flatMap((t, i) => {
      if (t.action !== 'anonymize') return [];
      if (!t.anonymize)
        return [{ path: `subjects.${type}[${i}].anonymize`, message: `required: no rule on table "${t.table}" names the columns to anonymize` }];
      if (!(t.column in t.anonymize)) {
        return [{ path: `subjects.${type}[${i}].anonymize`, message: `must rewrite the subject column "${t.column}", or the row stays linked to the person` }];
      }
      return [];
    }),
  );
  const issues = [...bounds, ...subjectIssues];
  if (issues.length > 0) throw new ConfigError(`invalid retention policies of service "${file.service}"`, issues);
  return Object.freeze({ service: file.service, subjects, rules, directories: file.directories });
}

/** A rule without a timestamp column is refused by the schema; say which policy, and why it matters. */
function nameUnboundRule(issue: Issue, input: PolicyFileInput): Issue {
  const index = /^rules\.(\d+)\.timestampColumn$/.exec(issue.path)?.[1];
  const rule = index === undefined ? undefined : (input.rules?.[Number(index)] as { name?: unknown; timestampColumn?: unknown } | undefined);
  if (!rule || rule.timestampColumn !== undefined) return issue;
  const name = typeof rule.name === 'string' ? rule.name : `#${index}`;
  return {
    path: issue.path,
    message: `required: policy "${name}" has no timestamp column, so nothing would bound what a sweep takes (every row would be due)`,
  };
}

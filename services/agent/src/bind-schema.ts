import { ConfigError, type Issue } from '@retention/contracts';
import { type BindPoliciesOptions, bindPoliciesToTables, type BoundPolicies, isTextColumn, type Policies } from '@retention/policy';
import type { LiveSchema } from './introspect';

/** Subject ids are strings: a subject column must hold text, a UUID or an integer id. */
const SUBJECT_TYPES = new Set(['uuid', 'int4', 'int8', 'integer', 'bigint']);

/**
 * Binds the policies to the live schema with the SDK's own checks (tables, columns, types,
 * strategies, markers, archive tables, bounds), plus what an entity model would have caught at
 * compile time: a subject column of a type subject ids cannot be compared with, and a policy that
 * names one of the agent's own tables. Throws one {@link ConfigError} naming every problem.
 */
export function bindToLiveSchema(policies: Policies, live: LiveSchema, ownTables: ReadonlySet<string>, options: BindPoliciesOptions): BoundPolicies {
  const issues: Issue[] = [];
  const checkTable = (name: string, path: string): void => {
    if (ownTables.has(name))
      issues.push({ path, message: `"${name}" is also a table of the agent's own schema; rename it or choose another RETENTION_AGENT_SCHEMA` });
  };
  for (const [i, rule] of policies.rules.entries()) {
    checkTable(rule.table, `rules[${i}].table`);
    if (rule.archiveTable) checkTable(rule.archiveTable, `rules[${i}].archiveTable`);
  }
  for (const [type, list] of Object.entries(policies.subjects)) {
    for (const [i, s] of list.entries()) {
      checkTable(s.table, `subjects.${type}[${i}].table`);
      const column = live.tables.get(s.table)?.columns.get(s.column);
      if (column && !isTextColumn(column) && !SUBJECT_TYPES.has(column.type))
        issues.push({
          path: `subjects.${type}[${i}].column`,
          message: `"${s.column}" of table "${s.table}" is ${column.type}; a subject column must be text, varchar, uuid, integer or bigint`,
        });
    }
  }

  const title = `retention policies of service "${policies.service}" do not match the schema "${live.schema}"`;
  let bound: BoundPolicies | undefined;
  try {
    bound = bindPoliciesToTables(policies, live.tables, options, {
      source: `schema "${live.schema}"`,
      known: `tables of schema "${live.schema}" with a single-column primary key`,
      unusable: live.unusable,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.unshift(...error.issues);
  }
  if (!bound || issues.length > 0) throw new ConfigError(title, issues);
  return bound;
}

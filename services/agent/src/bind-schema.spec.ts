import { ConfigError } from '@retention/contracts';
import { type ColumnInfo, definePolicies, type TableInfo } from '@retention/policy';
import { describe, expect, it } from 'vitest';
import { bindToLiveSchema } from './bind-schema';
import type { LiveSchema } from './introspect';

const col = (name: string, type: string, nullable = false): ColumnInfo => ({ name, type, nullable });
const table = (name: string, ...columns: ColumnInfo[]): TableInfo => ({ name, primaryKey: columns[0]!, columns: new Map(columns.map((c) => [c.name, c])) });

const live: LiveSchema = {
  schema: 'public',
  tables: new Map([
    ['page_views', table('page_views', col('id', 'uuid'), col('user_id', 'text'), col('viewed_at', 'timestamptz'), col('payload', 'jsonb'))],
    ['customers', table('customers', col('id', 'int8'), col('email', 'varchar'), col('created_at', 'date'))],
  ]),
  unusable: new Map([['ledger_lines', 'has no primary key (add one)']]),
};

const policies = (subjectColumn: string, table = 'page_views') =>
  definePolicies({
    service: 'billing',
    subjects: { user: { table, column: subjectColumn } },
    rules: [{ name: 'views', table, timestampColumn: 'viewed_at', retention: { days: 30 }, action: 'delete', legalBasis: 'Legitimate interest' }],
  });

const refusal = (run: () => unknown): ConfigError => {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('was accepted');
};

describe('binding policies to the live schema', () => {
  it('binds a matching policy with the SDK checks', () => {
    const bound = bindToLiveSchema(policies('user_id'), live, new Set(), { hashKey: 'k'.repeat(16) });
    expect(bound.tables.get('page_views')!.primaryKey.name).toBe('id');
  });

  it('names a table without primary key, and the schema, instead of "unknown"', () => {
    const error = refusal(() => bindToLiveSchema(policies('user_id', 'ledger_lines'), live, new Set(), { hashKey: 'k'.repeat(16) }));
    expect(error.message).toContain('do not match the schema "public"');
    expect(error.issues).toContainEqual({ path: 'rules[0].table', message: 'table "ledger_lines" has no primary key (add one)' });
  });

  it('refuses a subject column subject ids cannot be compared with', () => {
    expect(refusal(() => bindToLiveSchema(policies('payload'), live, new Set(), { hashKey: 'k'.repeat(16) })).issues).toEqual([
      { path: 'subjects.user[0].column', message: '"payload" of table "page_views" is jsonb; a subject column must be text, varchar, uuid, integer or bigint' },
    ]);
  });

  it("refuses a policy naming one of the agent's own tables, with every other problem at once", () => {
    const error = refusal(() => bindToLiveSchema(policies('nope'), live, new Set(['page_views']), { hashKey: 'k'.repeat(16) }));
    expect(error.issues).toEqual([
      { path: 'subjects.user[0].column', message: 'table "page_views" has no column "nope"' },
      { path: 'rules[0].table', message: expect.stringContaining("is also a table of the agent's own schema") },
      { path: 'subjects.user[0].table', message: expect.stringContaining("is also a table of the agent's own schema") },
    ]);
  });
});

import { type BoundPolicies, quoteIdent } from '@retention/policy';
import type { EntityManager } from 'typeorm';
import { subjectHash } from './subject-hash';

/**
 * Finds the subject ids whose keyed hash is wanted, without ever having stored them: reads the
 * distinct values of each subject column of `type` in index order (pages of `page`), hashes each,
 * and keeps those asked for (hash → id). Cost: one pass over each subject column's index and one
 * HMAC per distinct value, whatever the number of hashes asked for at once.
 */
export async function findSubjectIds(
  manager: EntityManager,
  bound: BoundPolicies,
  key: Buffer,
  type: string,
  wanted: ReadonlySet<string>,
  page = 10_000,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (wanted.size === 0) return found;
  for (const { table, column } of bound.policies.subjects[type] ?? []) {
    const col = `x.${quoteIdent(column)}`;
    let last: unknown;
    for (;;) {
      const rows = (await manager.query(
        `SELECT DISTINCT ${col} AS v FROM ${quoteIdent(table)} x WHERE ${col} IS NOT NULL${last === undefined ? '' : ` AND ${col} > $1`} ORDER BY 1 LIMIT ${page}`,
        last === undefined ? [] : [last],
      )) as Array<{ v: unknown }>;
      for (const { v } of rows) {
        const id = String(v);
        const hash = subjectHash(key, type, id);
        if (wanted.has(hash)) found.set(hash, id);
      }
      if (rows.length < page) break;
      last = rows[rows.length - 1]!.v;
    }
  }
  return found;
}

import type { Condition } from '@retention/contracts';
import { quoteIdent } from '@retention/database';

/** Collects bound parameters; identifiers never pass through here (they are quoted from metadata). */
export class Params {
  readonly values: unknown[] = [];

  bind(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export { quoteIdent };

/** A structured condition as SQL over the row alias `x`, with its value bound. */
export function conditionSql(c: Condition, params: Params): string {
  const col = `x.${quoteIdent(c.column)}`;
  switch (c.op) {
    case 'eq':
      return `${col} = ${params.bind(c.value)}`;
    case 'neq':
      return `${col} IS DISTINCT FROM ${params.bind(c.value)}`;
    case 'in':
      return `${col} = ANY(${params.bind(c.value)})`;
    case 'not_in':
      return `NOT (${col} = ANY(${params.bind(c.value)}))`;
    case 'is_null':
      return `${col} IS NULL`;
    case 'is_not_null':
      return `${col} IS NOT NULL`;
    case 'lt':
      return `${col} < ${params.bind(c.value)}`;
    case 'lte':
      return `${col} <= ${params.bind(c.value)}`;
    case 'gt':
      return `${col} > ${params.bind(c.value)}`;
    case 'gte':
      return `${col} >= ${params.bind(c.value)}`;
  }
}

import { describe, expect, it } from 'vitest';
import { surrogateStrategy } from './surrogate.strategy';

const column = { name: 'customer_id', type: 'text', nullable: false };

function build(): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const sql = surrogateStrategy.expression('"customer_id"', column, { bind: (v) => (params.push(v), `$${params.length}`), hashKey: 'service-key' }, undefined);
  return { sql, params };
}

describe('surrogate strategy', () => {
  it('salts each statement with fresh randomness, never with the service key', () => {
    const a = build();
    const b = build();
    expect(a.params).toHaveLength(1);
    expect(a.params[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(a.params[0]).not.toBe(b.params[0]);
    expect(a.params).not.toContain('service-key');
    // One salt for the whole statement: rows of one person rewritten together share a surrogate.
    expect(a.sql.match(/\$1/g)).toHaveLength(1);
  });

  it('refuses a non-text column', () => {
    expect(surrogateStrategy.check({ name: 'n', type: 'integer', nullable: false })).toMatch(/text column/);
  });
});

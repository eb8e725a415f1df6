import { describe, expect, it } from 'vitest';
import { Params } from '../sql-builder';
import { strategies } from './index';
import type { ColumnInfo } from './strategy';

const text: ColumnInfo = { name: 'email', type: 'text', nullable: true };
const short: ColumnInfo = { name: 'code', type: 'varchar', nullable: false, length: 8 };
const date: ColumnInfo = { name: 'born', type: 'date', nullable: true };

describe('anonymization strategies', () => {
  it('check the columns they may write', () => {
    expect(strategies.null.check(short)).toMatch(/nullable/);
    expect(strategies.hash.check(date)).toMatch(/text column/);
    expect(strategies.year_only.check(text)).toMatch(/date or timestamp/);
    expect(strategies.email_mask.check(text)).toBeNull();
  });

  it('bind values as parameters and fit the column length', () => {
    const params = new Params();
    const ctx = { bind: (v: unknown) => params.bind(v), hashKey: 'k3y' };
    expect(strategies.redact.expression('"code"', short, ctx, { text: "x'); DROP" })).toBe('CASE WHEN "code" IS NULL THEN NULL ELSE left($1::text, 8) END');
    expect(strategies.hash.expression('"email"', text, ctx, undefined)).toContain("sha256(convert_to($2::text || ':' || \"email\"::text, 'UTF8'))");
    expect(params.values).toEqual(["x'); DROP", 'k3y']);
    expect(strategies.year_only.expression('"born"', date, ctx, undefined)).toBe(`date_trunc('year', "born")::date`);
  });
});

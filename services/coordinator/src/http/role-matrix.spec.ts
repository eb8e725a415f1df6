import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROLE_MATRIX } from './role-matrix';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The lines of `doc` from the heading `heading` to the next heading of the same level. */
function section(doc: string, heading: string): string[] {
  const lines = readFileSync(resolve(root, doc), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`${doc} has no heading "${heading}"`);
  const level = heading.split(' ')[0]!;
  const end = lines.findIndex((l, i) => i > start && l.startsWith(`${level} `));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

const cells = (row: string): string[] =>
  row
    .replace(/\\\|/g, '\uE000')
    .split('|')
    .slice(1, -1)
    .map((c) => c.replace(/\uE000/g, '|').trim());

/** `METHOD /path` of each route a table cell names in backticks (a query string is not part of the route). */
const routesIn = (cell: string): string[] => [...cell.matchAll(/`(GET|POST|DELETE|PUT|PATCH) (\/[^`?\s]*)[^`]*`/g)].map((m) => `${m[1]} ${m[2]}`);

const sorted = (roles: readonly string[]): string[] => [...roles].sort();
const expected = Object.fromEntries(Object.entries(ROLE_MATRIX).map(([route, roles]) => [route, sorted(roles)]));

describe('the role matrix in the documentation is the one the code enforces', () => {
  it("README's API table", () => {
    const documented: Record<string, string[]> = {};
    for (const row of section('README.md', '## Using it').filter((l) => l.startsWith('|'))) {
      const [route, roles] = cells(row);
      for (const r of routesIn(route ?? '')) {
        documented[r] = roles === 'none' ? [] : sorted((roles ?? '').split(',').map((s) => s.trim()));
      }
    }
    expect(documented).toEqual(expected);
  });

  it('docs/api.md', () => {
    const rows = section('docs/api.md', '## Who may call what').filter((l) => l.startsWith('|'));
    const header = cells(rows[0] ?? '');
    const documented: Record<string, string[]> = {};
    for (const row of rows.slice(2)) {
      const [route, ...marks] = cells(row);
      const roles = marks.flatMap((mark, i) => (mark === '✓' ? [header[i + 1]!] : []));
      // "no token" stands alone: a route open to anyone names no role.
      for (const r of routesIn(route ?? '')) documented[r] = roles.includes('no token') && roles.length === 1 ? [] : sorted(roles);
    }
    expect(header.slice(1)).toEqual(['no token', 'requester', 'auditor', 'admin']);
    expect(documented).toEqual(expected);
  });
});

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeadLetterReasonCodes } from './dead-letter-reasons';
import { CurrentVersions } from './envelope';

/** docs/protocol.md is what a team implementing the protocol by hand reads: it must say what the code does. */
describe('docs/protocol.md', () => {
  const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/protocol.md'), 'utf8');

  it('lists the version this build writes of every type', () => {
    const table = Object.fromEntries([...doc.matchAll(/^\| `(retention\.[a-z.-]+)`\s*\| (\d+\.\d+)\s*\|$/gm)].map((m) => [m[1], m[2]]));
    expect(table).toEqual(CurrentVersions);
  });

  it('names every dead-letter reason code', () => {
    expect(DeadLetterReasonCodes.filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
});

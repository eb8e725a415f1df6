import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Code blocks marked ```ts file=<path> in the guides must be exactly that file. */
describe('documentation code blocks', () => {
  for (const doc of ['docs/add-retention-to-your-service.md']) {
    it(`${doc} shows the files as they are`, () => {
      const text = readFileSync(resolve(root, doc), 'utf8');
      const blocks = [...text.matchAll(/```\w+ file=(\S+)\n([\s\S]*?)\n```/g)];
      expect(blocks.length).toBeGreaterThanOrEqual(6);
      for (const [, path, body] of blocks) {
        expect(body, path).toBe(readFileSync(resolve(root, path!), 'utf8').replace(/\n$/, ''));
      }
    });
  }
});

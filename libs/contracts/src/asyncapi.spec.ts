import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from './asyncapi';

describe('AsyncAPI document', () => {
  it('is the one generated from the current schemas (run: npm run asyncapi --workspace @retention/contracts)', () => {
    const file = resolve(dirname(fileURLToPath(import.meta.url)), '../asyncapi.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(asyncApiDocument());
  });
});

import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './request-cursor';

const ID = '0b7c0b8e-3a51-4c1e-9f0a-2d3c4b5a6978';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

describe('request list cursor', () => {
  it('decodes what it encodes', () => {
    const last = { createdAt: new Date('2026-08-01T12:34:56.789Z'), id: ID };
    expect(decodeCursor(encodeCursor(last))).toEqual(last);
  });

  it.each([
    ['a time PostgreSQL cannot hold', b64(`+275760-09-13T00:00:00.000Z|${ID}`)],
    ['a negative year', b64(`-271821-04-20T00:00:00.000Z|${ID}`)],
    ['year 0', b64(`0000-01-01T00:00:00.000Z|${ID}`)],
    ['a date that does not exist', b64(`2026-02-30T00:00:00.000Z|${ID}`)],
    ['a date without time', b64(`2026-01-01|${ID}`)],
    ['an offset instead of Z', b64(`2026-01-01T00:00:00.000+01:00|${ID}`)],
    ['dashes for a UUID', b64('2026-01-01T00:00:00.000Z|------------------------------------')],
    ['an uppercase UUID', b64(`2026-01-01T00:00:00.000Z|${ID.toUpperCase()}`)],
    ['trailing fields', b64(`2026-01-01T00:00:00.000Z|${ID}|x`)],
    ['padding', `${b64(`2026-01-01T00:00:00.000Z|${ID}`)}==`],
    ['standard base64 characters', `${b64(`2026-01-01T00:00:00.000Z|${ID}`).slice(0, -1)}+`],
    ['not base64', 'not base64!'],
    ['empty', ''],
    ['too long', 'A'.repeat(201)],
  ])('refuses %s', (_what, cursor) => {
    expect(decodeCursor(cursor)).toBeUndefined();
  });
});

import type { Issue } from '@retention/contracts';

// NUL cannot be stored in a PostgreSQL text value ("invalid byte sequence for encoding UTF8: 0x00"),
// and an unpaired UTF-16 surrogate has no UTF-8 form: the driver would silently store U+FFFD, so
// the id that was hashed, stored and sent to the services would not be the one that was asked for.
const LONE_SURROGATE = /\p{Cs}/u;
const unstorable = (s: string): boolean => s.includes('\u0000') || LONE_SURROGATE.test(s);

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain U+0000 (NUL) or unpaired surrogates (U+D800–U+DFFF): PostgreSQL text cannot hold them';

/**
 * The dotted paths of every string in `value` (at any depth) that PostgreSQL text cannot hold,
 * so that such input is refused with 400 naming the field instead of failing in SQL.
 */
export function unstorableTextIssues(value: unknown, path: readonly (string | number)[] = []): Issue[] {
  if (typeof value === 'string') return unstorable(value) ? [{ path: path.join('.'), message: UNSTORABLE_TEXT_MESSAGE }] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => unstorableTextIssues(item, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => unstorableTextIssues(item, [...path, key]));
  return [];
}

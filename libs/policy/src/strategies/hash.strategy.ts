import { type AnonymizationStrategy, fitLength, requireText } from './strategy';

/**
 * Replaces the value with a keyed SHA-256 (hex): equal inputs stay equal (joins and counts still
 * work) but the value cannot be read back without the key. PostgreSQL's built-in `sha256()`
 * needs no extension.
 */
export const hashStrategy: AnonymizationStrategy = {
  name: 'hash',
  check: requireText,
  expression: (col, c, ctx) =>
    `CASE WHEN ${col} IS NULL THEN NULL ELSE ${fitLength(`encode(sha256(convert_to(${ctx.bind(ctx.hashKey)}::text || ':' || ${col}::text, 'UTF8')), 'hex')`, c)} END`,
};

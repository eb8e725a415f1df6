import { randomBytes } from 'node:crypto';
import { type AnonymizationStrategy, fitLength, requireText } from './strategy';

/**
 * Replaces the value with a random surrogate that cannot be linked back to it. Each statement draws
 * a fresh 256-bit salt that is bound as a parameter and never stored or logged, and rows are
 * rewritten to SHA-256(salt, value): rows of one person rewritten together (an erasure's batch, up
 * to its batch size) keep one shared surrogate, so they still group together, while nobody, the
 * service included, can recompute it from an id once the statement is done. Unlike `hash` (keyed
 * with the service's long-lived key, so anyone holding it re-identifies a person by trying ids),
 * the result is anonymous data, not pseudonymous.
 */
export const surrogateStrategy: AnonymizationStrategy = {
  name: 'surrogate',
  check: requireText,
  expression: (col, c, ctx) =>
    `CASE WHEN ${col} IS NULL THEN NULL ELSE ${fitLength(
      `encode(sha256(convert_to(${ctx.bind(randomBytes(32).toString('hex'))}::text || ':' || ${col}::text, 'UTF8')), 'hex')`,
      c,
    )} END`,
};

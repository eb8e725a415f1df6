import { timingSafeEqual, createHash } from 'node:crypto';
import { ForbiddenError, UnauthorizedError } from '@retention/contracts';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../config';

export interface Principal {
  /** `null` on a route that takes no token (it authenticates the request itself, e.g. by a signature). */
  role: Role | null;
  /** A non-secret name for the token (its role and a hash prefix), recorded as `requestedBy`. */
  name: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer tokens from `RETENTION_API_TOKENS`. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, so neither content nor length leaks through timing.
 */
export function createAuthenticator(tokens: ReadonlyArray<{ role: Role; token: string }>) {
  const known = tokens.map((t) => ({ role: t.role, digest: digest(t.token), name: `${t.role}:${digest(t.token).toString('hex').slice(0, 8)}` }));
  return function authenticate(request: FastifyRequest, allowed: readonly Role[]): Principal {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) throw new UnauthorizedError('missing or malformed Authorization header (expected "Bearer <token>")');
    const presented = digest(match[1]);
    let found: (typeof known)[number] | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, presented)) found = k;
    if (!found) throw new UnauthorizedError('unknown token');
    if (!allowed.includes(found.role)) throw new ForbiddenError(`role ${found.role} may not do this (needs ${allowed.join(' or ')})`);
    return { role: found.role, name: found.name };
  };
}

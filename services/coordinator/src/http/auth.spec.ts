import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthorizedError } from '@retention/contracts';
import { createAuthenticator } from './auth';

const request = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as FastifyRequest;

describe('bearer token authentication', () => {
  const authenticate = createAuthenticator([
    { role: 'admin', token: 'admin-secret-0123456789' },
    { role: 'auditor', token: 'audit-secret-0123456789' },
  ]);

  it('names the caller by role and a token fingerprint, never the token', () => {
    const principal = authenticate(request('Bearer audit-secret-0123456789'), ['auditor']);
    expect(principal.role).toBe('auditor');
    expect(principal.name).toMatch(/^auditor:[0-9a-f]{8}$/);
    expect(principal.name).not.toContain('secret');
  });

  it('rejects missing, malformed, unknown and under-privileged tokens', () => {
    expect(() => authenticate(request(), ['admin'])).toThrow(UnauthorizedError);
    expect(() => authenticate(request('Basic abc'), ['admin'])).toThrow(UnauthorizedError);
    expect(() => authenticate(request('Bearer admin-secret-012345678'), ['admin'])).toThrow(UnauthorizedError);
    expect(() => authenticate(request('Bearer audit-secret-0123456789'), ['admin', 'requester'])).toThrow(ForbiddenError);
  });
});

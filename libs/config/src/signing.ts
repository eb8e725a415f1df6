import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { ConfigError, isKeyId, parsePrivateKey, parsePublicKey, type SigningKey, type TrustedKey } from '@retention/contracts';
import { z } from 'zod';

const keyId = z.string().refine(isKeyId, 'must be 1 to 64 letters, digits, dots, dashes or underscores');

function privateKey(read: (value: string) => string) {
  return z.string().transform((value, ctx): KeyObject => {
    try {
      return parsePrivateKey(read(value), '');
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message:
          error instanceof ConfigError ? (error.issues[0]?.message ?? error.message) : `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      });
      return z.NEVER;
    }
  });
}

/** `entry,entry`, each parsed by `parse`; an invalid entry is named by its position, never echoed. */
function keyList<T>(format: string, parse: (entry: string) => T | undefined) {
  return z.string().transform((value, ctx): T[] => {
    const out: T[] = [];
    value
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)
      .forEach((entry, i) => {
        let parsed: T | undefined;
        try {
          parsed = parse(entry);
        } catch {
          parsed = undefined;
        }
        if (parsed === undefined)
          ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must be ${format} (an Ed25519 public key as base64url of its 32 bytes)` });
        else out.push(parsed);
      });
    if (value.replace(/[,\s]/g, '') === '') ctx.addIssue({ code: 'custom', message: 'must name at least one key' });
    return out;
  });
}

/**
 * The key a process signs everything it publishes with: `RETENTION_SIGNING_KEY` (a base64url
 * Ed25519 seed or a PKCS#8 PEM) or `RETENTION_SIGNING_KEY_FILE` (a file holding either), and its
 * `RETENTION_SIGNING_KEY_ID`. Exactly one of the two key settings is required: see
 * {@link requireSigningKey}.
 */
export const signingEnv = {
  RETENTION_SIGNING_KEY: privateKey((v) => v).optional(),
  RETENTION_SIGNING_KEY_FILE: privateKey((path) => readFileSync(path, 'utf8')).optional(),
  RETENTION_SIGNING_KEY_ID: keyId,
};

/**
 * How old a signed command or ack may be when it is consumed, and how far in the future its signing
 * time (or a sweep's `asOf`) may lie: the clocks of two machines are never quite equal.
 */
export const messageAgeEnv = {
  RETENTION_MESSAGE_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400),
  RETENTION_MAX_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(3600).default(300),
};

type KeySettings = { RETENTION_SIGNING_KEY?: unknown; RETENTION_SIGNING_KEY_FILE?: unknown };

/**
 * The object-level rule of {@link signingEnv}: exactly one of the key and the key file. Checked even
 * when other keys are invalid (`when`), so a start lists every problem at once.
 */
export function requireSigningKey<S extends z.ZodType<KeySettings>>(schema: S) {
  const given = (v: KeySettings): number => [v.RETENTION_SIGNING_KEY, v.RETENTION_SIGNING_KEY_FILE].filter((x) => x !== undefined && x !== '').length;
  const input = (payload: { value: unknown }): KeySettings => (payload.value ?? {}) as KeySettings;
  return schema
    .refine((v) => given(v) > 0, {
      path: ['RETENTION_SIGNING_KEY'],
      message: 'is required (or RETENTION_SIGNING_KEY_FILE): the Ed25519 key this process signs its messages with',
      when: (payload) => given(input(payload)) === 0,
    })
    .refine((v) => given(v) < 2, {
      path: ['RETENTION_SIGNING_KEY'],
      message: 'set this or RETENTION_SIGNING_KEY_FILE, not both',
      when: (payload) => given(input(payload)) > 1,
    });
}

export function signingKeyOf(config: {
  RETENTION_SIGNING_KEY?: KeyObject;
  RETENTION_SIGNING_KEY_FILE?: KeyObject;
  RETENTION_SIGNING_KEY_ID: string;
}): SigningKey {
  const privateKey = config.RETENTION_SIGNING_KEY ?? config.RETENTION_SIGNING_KEY_FILE;
  if (!privateKey) throw new ConfigError('invalid configuration', [{ path: 'RETENTION_SIGNING_KEY', message: 'is required' }]);
  return { keyId: config.RETENTION_SIGNING_KEY_ID, privateKey };
}

/** `keyId=publicKey,...`: the coordinator's keys a service trusts (several during a rotation). */
export const coordinatorPublicKeys = keyList<TrustedKey>('keyId=publicKey', (entry) => {
  const [id, key, ...rest] = entry.split('=');
  if (!id || !key || rest.length > 0 || !isKeyId(id)) return undefined;
  return { keyId: id, publicKey: parsePublicKey(key, ''), owner: 'coordinator' };
});

/** `service:keyId=publicKey,...`: services whose keys the coordinator trusts without an approval. */
export const servicePublicKeys = keyList<TrustedKey>('service:keyId=publicKey', (entry) => {
  const match = /^([a-z][a-z0-9-]{0,62}):([^=]+)=(.+)$/.exec(entry);
  if (!match || !isKeyId(match[2]!)) return undefined;
  return { keyId: match[2]!, publicKey: parsePublicKey(match[3]!, ''), owner: match[1]! };
});

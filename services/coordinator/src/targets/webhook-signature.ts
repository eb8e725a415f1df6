import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The header that carries a webhook signature, in both directions. */
export const SIGNATURE_HEADER = 'retention-signature';
/** A signed message older (or newer) than this is refused: a captured one cannot be replayed later. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new webhook secret: 32 random bytes, shown to the admin once. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

const mac = (secret: string, timestamp: number, body: Buffer | string): string =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');

/**
 * `t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 under the target's secret over
 * `<t>.<raw body>` (the scheme Stripe uses): the receiver recomputes it over the bytes it got and
 * refuses a timestamp outside the tolerance.
 */
export function signatureHeader(secret: string | readonly string[], body: Buffer | string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  // Several secrets (a rotation's grace period): one v1 each, newest first; a receiver holding
  // either verifies the message.
  return [`t=${t}`, ...[secret].flat().map((s) => `v1=${mac(s, t, body)}`)].join(',');
}

/**
 * What a verified header signed, as a fixed-size key: SHA-256 of `<t>.<body>`. The same message is
 * the same key however its header is written (and under either secret of a rotation).
 */
export function signedDigest(header: string | string[] | undefined, body: Buffer): string {
  const t = /(?:^|,)\s*t=(\d{1,12})\s*(?:,|$)/.exec(String(header))?.[1] ?? '';
  return createHash('sha256').update(`${t}.`).update(body).digest('hex');
}

export type SignatureProblem = 'missing' | 'malformed' | 'expired' | 'mismatch';

/** Checks a signature header against the body as received; `null` when it is good. */
export function verifySignature(secret: string, header: string | string[] | undefined, body: Buffer, now: Date): SignatureProblem | null {
  if (header === undefined) return 'missing';
  if (Array.isArray(header) || header.length > 1024) return 'malformed';
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) return 'malformed';
    const key = item.slice(0, at).trim();
    parts.set(key, [...(parts.get(key) ?? []), item.slice(at + 1).trim()]);
  }
  const t = parts.get('t');
  if (!t || t.length !== 1 || !/^\d{1,12}$/.test(t[0]!)) return 'malformed';
  const signatures = (parts.get('v1') ?? []).filter((v) => /^[0-9a-f]{64}$/.test(v));
  if (signatures.length === 0) return 'malformed';
  const timestamp = Number(t[0]);
  if (Math.abs(now.getTime() / 1000 - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return 'expired';
  const expected = Buffer.from(mac(secret, timestamp, body), 'hex');
  // Several v1 values are allowed (a secret being rolled): any one that matches is enough.
  return signatures.some((v) => timingSafeEqual(Buffer.from(v, 'hex'), expected)) ? null : 'mismatch';
}

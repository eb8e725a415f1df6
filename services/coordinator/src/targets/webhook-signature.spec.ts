import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signatureHeader, verifySignature } from './webhook-signature';

describe('webhook signatures', () => {
  const secret = newWebhookSecret();
  const at = new Date('2026-12-02T12:00:00Z');
  const body = Buffer.from('{"requestId":"r","status":"completed"}');

  it('verifies its own header over the same bytes, within the tolerance', () => {
    const header = signatureHeader(secret, body, at);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, header, body, at)).toBeNull();
    expect(verifySignature(secret, header, body, new Date(at.getTime() + 299_000))).toBeNull();
  });

  it('refuses another body, another secret, an old or future timestamp, and malformed headers', () => {
    const header = signatureHeader(secret, body, at);
    expect(verifySignature(secret, header, Buffer.from('{"requestId":"r","status":"failed"}'), at)).toBe('mismatch');
    expect(verifySignature(newWebhookSecret(), header, body, at)).toBe('mismatch');
    expect(verifySignature(secret, header, body, new Date(at.getTime() + 301_000))).toBe('expired');
    expect(verifySignature(secret, header, body, new Date(at.getTime() - 301_000))).toBe('expired');
    expect(verifySignature(secret, undefined, body, at)).toBe('missing');
    expect(verifySignature(secret, [header, header], body, at)).toBe('malformed');
    expect(verifySignature(secret, 'v1=abc', body, at)).toBe('malformed');
    expect(verifySignature(secret, `t=${Math.floor(at.getTime() / 1000)},v1=zz`, body, at)).toBe('malformed');
    expect(verifySignature(secret, `t=1,t=2,${header.split(',')[1]}`, body, at)).toBe('malformed');
  });

  it('accepts any one of several v1 values (a secret being rolled)', () => {
    const good = signatureHeader(secret, body, at);
    const other = signatureHeader(newWebhookSecret(), body, at).split(',')[1];
    expect(verifySignature(secret, `${good},${other}`, body, at)).toBeNull();
  });
});

import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicNames } from '@retention/contracts';
import { sessionsService } from '@retention/service-sessions';
import { testStack, waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from './support';

/**
 * The protocol without our code: a command written by hand from the AsyncAPI document, its
 * signing input built by a Python script (standard library only), signed by `openssl pkeyutl`,
 * and produced by kcat. The service applies it; the same bytes with one header changed are refused.
 */
describe('a command from a client not written in TypeScript', () => {
  let platform: Platform;
  let dir: string;

  beforeAll(async () => {
    for (const [tool, ...args] of [
      ['kcat', '-V'],
      ['openssl', 'version'],
      ['python3', '--version'],
    ] as const) {
      if (spawnSync(tool, args, { stdio: 'ignore' }).status !== 0) {
        throw new Error(`${tool} is needed by this test (scripts/test.sh installs kcat with apt-get when it can)`);
      }
    }
    platform = await startPlatform([sessionsService]);
    dir = mkdtempSync(join(tmpdir(), 'interop-'));
  });

  afterAll(async () => {
    await platform?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // The documented signing input: each part as a 4-byte big-endian length and its UTF-8 bytes.
  const buildInput = `
import struct, sys
topic, key, signed_at, value_path, out = sys.argv[1:6]
value = open(value_path, 'rb').read()
parts = [b'retention-message-signature-v1', topic.encode(), key.encode(), signed_at.encode(), value]
open(out, 'wb').write(b''.join(struct.pack('>I', len(p)) + p for p in parts))
`;

  function sign(topic: string, key: string, signedAt: string, value: string): string {
    writeFileSync(join(dir, 'value.json'), value);
    const input = spawnSync('python3', ['-c', buildInput, topic, key, signedAt, join(dir, 'value.json'), join(dir, 'input.bin')], { encoding: 'utf8' });
    expect(input.status, input.stderr).toBe(0);
    const signed = spawnSync('openssl', ['pkeyutl', '-sign', '-inkey', join(dir, 'coordinator.pem'), '-rawin', '-in', join(dir, 'input.bin')]);
    expect(signed.status, signed.stderr?.toString()).toBe(0);
    return signed.stdout.toString('base64url');
  }

  function kcat(topic: string, key: string, value: string, headers: Record<string, string>): void {
    const args = ['-P', '-b', testStack().kafkaBrokers.join(','), '-t', topic, '-k', key, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`])];
    const result = spawnSync('kcat', args, { input: `${value}\n`, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
  }

  it('is applied when signed with the coordinator key, and refused with a changed signing time', async () => {
    writeFileSync(join(dir, 'coordinator.pem'), platform.keys.coordinator.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const sessions = platform.services.get('sessions')!.dataSource;
    await sessions.query(`INSERT INTO sessions (user_id, started_at) VALUES ('kcat-user', now()), ('kcat-user', now()), ('kcat-other', now())`);
    const topic = topicNames(platform.prefix).commands;
    const now = new Date();
    const value = JSON.stringify({
      specversion: '1.0',
      id: `kcat-${randomUUID()}`,
      type: 'retention.erasure.requested',
      source: 'kcat',
      time: now.toISOString(),
      dataschema: 'urn:retention:schema:retention.erasure.requested:1.0',
      data: {
        requestId: randomUUID(),
        subject: { type: 'user', id: 'kcat-other' },
        requestedAt: now.toISOString(),
        dueAt: new Date(now.getTime() + 86_400_000).toISOString(),
      },
    });
    const signedAt = new Date().toISOString();
    const signature = sign(topic, 'kcat-key', signedAt, value);

    // One header changed (the signing time): the signature no longer covers the message.
    kcat(topic, 'kcat-key', value, {
      'x-retention-key-id': platform.keys.coordinator.keyId,
      'x-retention-signed-at': new Date(Date.parse(signedAt) + 1).toISOString(),
      'x-retention-signature': signature,
    });
    const genuine = value.replace('kcat-other', 'kcat-user').replace(/"requestId":"[^"]+"/, `"requestId":"${randomUUID()}"`);
    kcat(topic, 'kcat-key', genuine, {
      'x-retention-key-id': platform.keys.coordinator.keyId,
      'x-retention-signed-at': signedAt,
      'x-retention-signature': sign(topic, 'kcat-key', signedAt, genuine),
    });
    await waitFor('the hand-made command to erase', async () => {
      const [{ n }] = (await sessions.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'kcat-user'`)) as [{ n: number }];
      return n === 0 ? true : undefined;
    });
    // Same partition, earlier offset: the refused one was consumed first, and erased nothing.
    const [{ n }] = (await sessions.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'kcat-other'`)) as [{ n: number }];
    expect(n).toBe(1);
  });
});

import { randomUUID } from 'node:crypto';
import {
  encodeEvent,
  encodeEventVersion,
  EventTypes,
  generateSigningKeyPair,
  parsePrivateKey,
  type SigningKey,
  signMessage,
  topicNames,
  type TopicNames,
} from '@retention/contracts';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceRaw, waitForMessage, completedAck, waitForDeadLetters } from './kafka-helpers';
import { publishRegistration } from './registry-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * The attacks of a client with write access to the broker, performed for real: forged, tampered,
 * stale and replayed commands, hold releases, acks and registrations. Each must change nothing,
 * and land in the dead-letter topic with its reason.
 */
describe('a client with broker access cannot forge control messages', () => {
  let platform: Platform;
  let topics: TopicNames;
  const attacker: SigningKey = { keyId: 'coordinator-test-1', privateKey: parsePrivateKey(generateSigningKeyPair().privateKey, 'attacker') };

  beforeAll(async () => {
    // `ghost` is a service the coordinator's configuration trusts but that never runs: its targets stay
    // pending, which is what forged acks would try to close.
    platform = await startPlatform([sessionsService], { trustedServices: ['ghost'] });
    topics = topicNames(platform.prefix);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const sessions = () => platform.services.get('sessions')!.dataSource;

  async function insertSessions(userId: string, n: number, daysAgo = 1): Promise<void> {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) SELECT $1, now() - make_interval(days => $2) FROM generate_series(1, $3)`, [
      userId,
      daysAgo,
      n,
    ]);
  }

  const countSessions = async (userId: string): Promise<number> =>
    ((await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [userId])) as Array<{ n: number }>)[0]!.n;

  function erasureCommand(userId: string, requestId = randomUUID()): { requestId: string; value: string } {
    const now = new Date();
    // A 1.x command (id in clear), as an older coordinator wrote it: still accepted when signed.
    const { value } = encodeEventVersion(
      EventTypes.erasureRequested,
      1,
      { requestId, subject: { type: 'user', id: userId }, requestedAt: now.toISOString(), dueAt: new Date(now.getTime() + 86_400_000).toISOString() },
      { source: '/retention/coordinator' },
    );
    return { requestId, value };
  }

  /**
   * Waits for the dead letter, by `consumer`, of the message whose payload (or key, for a tombstone)
   * contains `marker`, with the reason `reason`. Times out (and fails) if there is none.
   */
  async function expectDeadLetter(consumer: string, marker: string, reason: string): Promise<void> {
    await expectDeadLetters([{ consumer, marker, reason }]);
  }

  /** The same for several dead letters, read in one pass over the topic. */
  const expectDeadLetters = (expected: ReadonlyArray<{ consumer: string; marker: string; reason: string }>): Promise<void> =>
    waitForDeadLetters(topics.dlq, expected);

  /** An ack for `requestId` from `service`, signed with `key` (or unsigned); returns its command id. */
  async function sendAck(requestId: string, service: string, key: SigningKey | null): Promise<string> {
    const { commandId, value } = completedAck(requestId, service);
    await produceRaw(topics.acks, [{ key: requestId, value, headers: key ? signMessage(key, { topic: topics.acks, key: requestId, value }) : {} }]);
    return commandId;
  }

  it('refuses unsigned, foreign-signed, tampered and stale commands: nothing is erased', async () => {
    const cases: Array<{ user: string; headers: (value: string, key: string) => Record<string, string>; reason: string }> = [
      { user: 'forged-unsigned', headers: () => ({}), reason: 'signature_missing' },
      // The attacker's own key, even under the coordinator's key id.
      { user: 'forged-attacker-key', headers: (value, key) => signMessage(attacker, { topic: topics.commands, key, value }), reason: 'signature_invalid' },
      {
        user: 'forged-unknown-id',
        headers: (value, key) => signMessage({ ...attacker, keyId: 'attacker-1' }, { topic: topics.commands, key, value }),
        reason: 'unknown_signing_key',
      },
      // A genuine signature over other bytes: the coordinator's key signed a dry run, the value says real.
      {
        user: 'forged-tampered',
        headers: (value, key) =>
          signMessage(platform.keys.coordinator, { topic: topics.commands, key, value: value.replace('"dryRun":false', '"dryRun":true') }),
        reason: 'signature_invalid',
      },
      // Authentic but signed two days ago (a replay of an old command).
      {
        user: 'forged-stale',
        headers: (value, key) => signMessage(platform.keys.coordinator, { topic: topics.commands, key, value }, new Date(Date.now() - 2 * 86_400_000)),
        reason: 'signature_stale',
      },
      // Authentic but dated in the future (beyond the clock skew).
      {
        user: 'forged-future',
        headers: (value, key) => signMessage(platform.keys.coordinator, { topic: topics.commands, key, value }, new Date(Date.now() + 3600_000)),
        reason: 'signature_from_future',
      },
    ];
    const expected: Array<{ consumer: string; marker: string; reason: string }> = [];
    for (const c of cases) {
      await insertSessions(c.user, 3);
      const { requestId, value } = erasureCommand(c.user);
      const key = `forged-${requestId}`;
      await produceRaw(topics.commands, [{ key, value, headers: c.headers(value, key) }]);
      expected.push({ consumer: 'sessions', marker: requestId, reason: c.reason });
    }
    await expectDeadLetters(expected);
    for (const c of cases) expect({ user: c.user, rows: await countSessions(c.user) }).toEqual({ user: c.user, rows: 3 });
    // The same command signed by the coordinator's key is applied: the refusals above were the signatures.
    await insertSessions('genuine', 2);
    const { value } = erasureCommand('genuine');
    await produceRaw(topics.commands, [
      { key: 'genuine', value, headers: signMessage(platform.keys.coordinator, { topic: topics.commands, key: 'genuine', value }) },
    ]);
    await waitFor('the genuine command to erase', async () => ((await countSessions('genuine')) === 0 ? true : undefined));
  });

  it('a hold tombstone nobody signed releases nothing, and a replayed placement does not bring a released hold back', async () => {
    await insertSessions('held-user', 2);
    const hold = await platform.api('POST', '/v1/legal-holds', {
      body: { scope: 'subject', subject: { type: 'user', id: 'held-user' }, reason: 'litigation' },
    });
    expect(hold.status).toBe(201);
    const holdId = hold.body.id as string;
    const inReplica = async (): Promise<number> =>
      ((await sessions().query(`SELECT count(*)::int AS n FROM retention_holds WHERE hold_id = $1`, [holdId])) as Array<{ n: number }>)[0]!.n;
    await waitFor('the hold to reach the service', async () => ((await inReplica()) === 1 ? true : undefined));
    const placed = await waitForMessage(topics.holds, (m) => m.key === holdId && m.value !== null);

    // Forged releases: unsigned, and signed with the attacker's key.
    await produceRaw(topics.holds, [{ key: holdId, value: null }]);
    await expectDeadLetter('sessions.holds', holdId, 'signature_missing');
    await produceRaw(topics.holds, [{ key: holdId, value: null, headers: signMessage(attacker, { topic: topics.holds, key: holdId, value: null }) }]);
    await expectDeadLetter('sessions.holds', holdId, 'signature_invalid');
    expect(await inReplica()).toBe(1);

    const erasure = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'held-user' } } });
    const done = await platform.waitForRequest(erasure.body.id, ['completed', 'failed', 'held']);
    expect(done.targets.find((t: { service: string }) => t.service === 'sessions')).toMatchObject({ status: 'held' });
    expect(await countSessions('held-user')).toBe(2);

    // The real release, then a replay of the old (authentic) placement: the hold stays released.
    expect((await platform.api('DELETE', `/v1/legal-holds/${holdId}`)).status).toBe(200);
    await waitFor('the release to reach the service', async () => ((await inReplica()) === 0 ? true : undefined));
    await produceRaw(topics.holds, [{ key: placed.key, value: placed.value, headers: placed.headers }]);
    // A later hold, placed after the replay, reaches the service: the holds topic has one partition,
    // so the replay was applied (or refused) before it.
    const later = await platform.api('POST', '/v1/legal-holds', { body: { scope: 'subject', subject: { type: 'user', id: 'other-user' }, reason: 'audit' } });
    await waitFor('the later hold to reach the service', async () =>
      ((await sessions().query(`SELECT count(*)::int AS n FROM retention_holds WHERE hold_id = $1`, [later.body.id])) as Array<{ n: number }>)[0]!.n === 1
        ? true
        : undefined,
    );
    expect(await inReplica()).toBe(0);
  });

  it('a hold the topic no longer holds (its release compacted away while the service was down) is dropped at start', async () => {
    // As the replica would have it after missing a release whose tombstone compaction has since removed.
    await insertSessions('reconciled-user', 2);
    await sessions().query(
      `INSERT INTO retention_holds (hold_id, scope, subject_type, subject_id, placed_at) VALUES ('11111111-2222-4333-8444-555555555555', 'subject', 'user', 'reconciled-user', now())`,
    );
    await platform.stopService('sessions');
    await platform.startService('sessions');
    await waitFor('the stale hold to be released', async () =>
      (
        (await sessions().query(`SELECT count(*)::int AS n FROM retention_holds WHERE hold_id = '11111111-2222-4333-8444-555555555555'`)) as Array<{
          n: number;
        }>
      )[0]!.n === 0
        ? true
        : undefined,
    );
    const erasure = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'reconciled-user' } } });
    expect((await platform.waitForRequest(erasure.body.id)).targets.find((t: { service: string }) => t.service === 'sessions').status).toBe('completed');
    expect(await countSessions('reconciled-user')).toBe(0);
  });

  it('acks count only when signed by the key of the service they speak for', async () => {
    await registerAs('ghost', platform.keys.service('ghost'));
    await waitFor('ghost to be an active target', async () => {
      const { body } = await platform.api('GET', '/v1/services/ghost');
      return body.status === 'active' ? true : undefined;
    });
    const request = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ack-victim' } } });
    expect(request.body.targets).toEqual(['ghost', 'sessions']);
    const requestId = request.body.id as string;
    await waitFor('sessions to ack', async () => {
      const { body } = await platform.api('GET', `/v1/erasure-requests/${requestId}`);
      return body.targets.find((t: { service: string }) => t.service === 'sessions').status === 'completed' ? true : undefined;
    });

    const unsigned = await sendAck(requestId, 'ghost', null);
    // Signed by a real service key (sessions'), speaking for ghost.
    const crossSigned = await sendAck(requestId, 'ghost', platform.keys.service('sessions'));
    const attackerSigned = await sendAck(requestId, 'ghost', attacker);
    await expectDeadLetters([
      { consumer: 'coordinator.acks', marker: unsigned, reason: 'signature_missing' },
      { consumer: 'coordinator.acks', marker: crossSigned, reason: 'signer_mismatch' },
      { consumer: 'coordinator.acks', marker: attackerSigned, reason: 'unknown_signing_key' },
    ]);

    const { body } = await platform.api('GET', `/v1/erasure-requests/${requestId}`);
    expect(body.status).toBe('pending');
    expect(body.targets.find((t: { service: string }) => t.service === 'ghost').status).toBe('pending');

    // Ghost's own key completes it.
    await sendAck(requestId, 'ghost', platform.keys.service('ghost'));
    expect((await platform.waitForRequest(requestId)).status).toBe('completed');
  });

  const registerAs = (service: string, key: SigningKey, subjects?: NonNullable<Parameters<typeof publishRegistration>[3]>['subjects']) =>
    publishRegistration(platform.prefix, service, key, { subjects });

  it('a rogue registration is not a target until an admin approves it; retiring closes its targets', async () => {
    const rogue = generateSigningKeyPair();
    const rogueKey = { keyId: 'legacy-crm-1', privateKey: parsePrivateKey(rogue.privateKey, 'rogue'), publicKey: rogue.publicKey };
    // Unsigned: dead-lettered, not even pending.
    const { value: unsignedValue } = encodeEvent(
      EventTypes.serviceRegistered,
      { service: 'legacy-crm', version: '1', subjects: [], policies: [], policyHash: 'y'.repeat(64), publishedAt: new Date().toISOString() },
      { source: '/x' },
    );
    await produceRaw(topics.registry, [{ key: 'legacy-crm', value: unsignedValue }]);
    await expectDeadLetter('coordinator.registry', 'legacy-crm', 'signature_missing');

    await registerAs('legacy-crm', rogueKey);
    const pending = await waitFor('the registration to wait for approval', async () => {
      const r = await platform.api('GET', '/v1/services/legacy-crm');
      return r.status === 200 ? r.body : undefined;
    });
    expect(pending).toMatchObject({ status: 'pending_approval', pending: { signingKeyId: 'legacy-crm-1', publicKey: rogue.publicKey } });
    const before = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'crm-user' } } });
    expect(before.body.targets).not.toContain('legacy-crm');
    expect((await platform.api('GET', '/v1/policies')).body.services.map((s: { service: string }) => s.service)).not.toContain('legacy-crm');
    expect((await platform.api('POST', '/v1/services/legacy-crm/approve', { token: TOKENS.auditor, body: { publicKey: rogue.publicKey } })).status).toBe(403);

    // A second sender cannot swap its own key in while the first waits: dead-lettered, the pending key unchanged.
    const swapper = generateSigningKeyPair();
    await registerAs('legacy-crm', { keyId: 'legacy-crm-1', privateKey: parsePrivateKey(swapper.privateKey, 'swapper') });
    await expectDeadLetter('coordinator.registry', 'legacy-crm', 'pending_conflict');
    expect((await platform.api('GET', '/v1/services/legacy-crm')).body.pending.publicKey).toBe(rogue.publicKey);
    // An approval names the key the admin checked; another key is refused.
    const wrongKey = await platform.api('POST', '/v1/services/legacy-crm/approve', { body: { publicKey: swapper.publicKey } });
    expect(wrongKey.status).toBe(409);

    // Approved by an admin: a target from now on, its key pinned.
    const approved = await platform.api('POST', '/v1/services/legacy-crm/approve', { body: { publicKey: rogue.publicKey } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'active', signingKeyId: 'legacy-crm-1', pending: null });
    const after = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'crm-user-2' } } });
    expect(after.body.targets).toContain('legacy-crm');
    // Every other target acks (ghost, trusted by configuration, does not run: its ack is sent here).
    await sendAck(after.body.id, 'ghost', platform.keys.service('ghost'));
    await waitFor('the other targets to ack', async () => {
      const { body } = await platform.api('GET', `/v1/erasure-requests/${after.body.id}`);
      return body.targets.every((t: { service: string; status: string }) => t.service === 'legacy-crm' || t.status === 'completed') ? true : undefined;
    });

    // Retired: the pending target is closed as retired, the request completes, the ledger says who and why.
    const retired = await platform.api('DELETE', '/v1/services/legacy-crm', { body: { reason: 'system decommissioned' } });
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ status: 'retired', closedTargets: 1 });
    const closed = await platform.waitForRequest(after.body.id);
    expect(closed.status).toBe('completed');
    expect(closed.targets.find((t: { service: string }) => t.service === 'legacy-crm').status).toBe('retired');
    const next = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'crm-user-3' } } });
    expect(next.body.targets).not.toContain('legacy-crm');
    const ledger = (await platform.coordinator.dataSource.query(
      `SELECT entry_type, body FROM ledger_entries WHERE service = 'legacy-crm' OR (request_id = $1 AND entry_type = 'target.retired') ORDER BY seq`,
      [after.body.id],
    )) as Array<{ entry_type: string; body: Record<string, unknown> }>;
    expect(ledger.map((e) => e.entry_type)).toEqual(['service.registration_pending', 'service.approved', 'service.retired', 'target.retired']);
    expect(ledger[2]!.body).toMatchObject({ by: expect.stringMatching(/^admin:/), reason: 'system decommissioned', closedTargets: 1 });
    expect((await platform.api('GET', '/v1/ledger/verify', { token: TOKENS.auditor })).body.ok).toBe(true);
  });

  it('a key (or key id) another service signs with cannot be approved for a second service', async () => {
    // Possession is proven (the registration is signed with the key it presents), but the key is sessions'.
    const sessionsKey = platform.keys.service('sessions');
    await registerAs('billing', sessionsKey);
    await waitFor('billing to wait for approval', async () => ((await platform.api('GET', '/v1/services/billing')).status === 200 ? true : undefined));
    const sameKey = await platform.api('POST', '/v1/services/billing/approve', { body: { publicKey: sessionsKey.publicKey } });
    expect(sameKey.status).toBe(409);
    expect(sameKey.body.error.message).toContain('presents the signing key of "sessions"');

    const own = generateSigningKeyPair();
    await registerAs('invoicing', { keyId: sessionsKey.keyId, privateKey: parsePrivateKey(own.privateKey, 'invoicing') });
    await waitFor('invoicing to wait for approval', async () => ((await platform.api('GET', '/v1/services/invoicing')).status === 200 ? true : undefined));
    const sameKeyId = await platform.api('POST', '/v1/services/invoicing/approve', { body: { publicKey: own.publicKey } });
    expect(sameKeyId.status).toBe(409);
    expect(sameKeyId.body.error.message).toContain(`uses key id ${sessionsKey.keyId}, which "sessions" already has`);
    for (const name of ['billing', 'invoicing']) expect((await platform.api('GET', `/v1/services/${name}`)).body.status).toBe('pending_approval');
    // sessions still speaks for itself.
    const { body } = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'key-owner' } } });
    await sendAck(body.id, 'ghost', platform.keys.service('ghost'));
    expect((await platform.waitForRequest(body.id)).targets.find((t: { service: string }) => t.service === 'sessions')).toMatchObject({ status: 'completed' });
  });

  it('a registration under a known name with another key changes nothing until approved, and forged tombstones retire nothing', async () => {
    const before = (await platform.api('GET', '/v1/services/sessions')).body;
    expect(before.status).toBe('active');
    const thief = generateSigningKeyPair();
    const thiefKey = { keyId: 'sessions-test-1', privateKey: parsePrivateKey(thief.privateKey, 'thief'), publicKey: thief.publicKey };
    await registerAs('sessions', thiefKey, []);
    await waitFor('the key change to wait for approval', async () => {
      const { body } = await platform.api('GET', '/v1/services/sessions');
      return body.pending ? body : undefined;
    });
    const after = (await platform.api('GET', '/v1/services/sessions')).body;
    expect(after).toMatchObject({
      status: 'active',
      signingKeyId: before.signingKeyId,
      policyHash: before.policyHash,
      pending: { publicKey: thief.publicKey },
    });
    // Sessions is still a target of new erasures (its subjects did not change to the thief's empty list).
    const request = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'after-thief' } } });
    expect(request.body.targets).toContain('sessions');

    // Registration tombstones: unsigned, and signed by the thief: sessions stays active.
    await produceRaw(topics.registry, [{ key: 'sessions', value: null }]);
    await produceRaw(topics.registry, [
      { key: 'sessions', value: null, headers: signMessage(thiefKey, { topic: topics.registry, key: 'sessions', value: null }) },
    ]);
    await expectDeadLetters([
      { consumer: 'coordinator.registry', marker: 'sessions', reason: 'signature_missing' },
      { consumer: 'coordinator.registry', marker: 'sessions', reason: 'signature_invalid' },
    ]);
    // A tombstone signed by ghost's own key retires ghost: the same path works for the genuine key.
    await produceRaw(topics.registry, [
      { key: 'ghost', value: null, headers: signMessage(platform.keys.service('ghost'), { topic: topics.registry, key: 'ghost', value: null }) },
    ]);
    await waitFor('ghost to be retired', async () => ((await platform.api('GET', '/v1/services/ghost')).body.status === 'retired' ? true : undefined));
    expect((await platform.api('GET', '/v1/services/sessions')).body.status).toBe('active');
  });
});

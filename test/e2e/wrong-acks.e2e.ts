import { randomUUID } from 'node:crypto';
import { type Ack, decodeEvent, encodeEvent, EventTypes, signMessage, type SigningKey } from '@retention/contracts';
import { analyticsService } from '@retention/service-analytics';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeadLetterWatch, sample, watchDeadLetters } from './dead-letter-watch';
import { produceRaw, waitForMessage } from './kafka-helpers';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * Issue 8, "acks that parse but are wrong are recorded and visible": authentic acks (signed with the
 * key of the service they speak for) about an unknown request, from a service that is not a target,
 * with the wrong kind or dry-run flag, or contradicting a target that already completed. Each
 * changes nothing, is counted in retention_acks_rejected_total{reason} and lands in the dead-letter
 * topic with the reason; a true duplicate (the service re-sending its stored ack) is neither.
 */
describe('wrong acks are recorded and visible', () => {
  let platform: Platform;
  let dlq: DeadLetterWatch;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService, analyticsService]);
    dlq = await watchDeadLetters(`${platform.prefix}data.retention.dlq`);
  });

  afterAll(async () => {
    await dlq?.stop();
    await platform?.stop();
  });

  const coordinatorDb = () => platform.coordinator.dataSource;
  const metrics = async (): Promise<string> => (await fetch(`${platform.coordinator.url}/metrics`)).text();

  /** An ack as its service would publish it: signed with `key` (the service's own). */
  function signedAck(ack: Ack, key: SigningKey): { key: string; value: string; headers: Record<string, string> } {
    const topic = `${platform.prefix}data.retention.ack`;
    const { value } = encodeEvent(EventTypes.ack, ack, { source: `/retention/services/${ack.service}` });
    return { key: ack.requestId, value, headers: signMessage(key, { topic, key: ack.requestId, value }) };
  }

  it('unknown request, not a target, mismatch and contradiction: each counted by reason, dead-lettered with it, and the request unchanged', async () => {
    // A real sweep of sessions only: analytics is registered but not a target.
    const created = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(created.status).toBe(202);
    expect(created.body.targets.map((t: { service: string }) => t.service)).toEqual(['sessions']);
    const requestId = created.body.id as string;
    const view = async () => (await platform.api('GET', `/v1/sweeps/${requestId}`, { token: TOKENS.auditor })).body;
    const completed = await waitFor('the sweep to complete', async () => {
      const body = await view();
      return body.status === 'completed' ? body : undefined;
    });
    const ledger = async () => coordinatorDb().query(`SELECT seq, entry_type, hash FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [requestId]);
    const ledgerBefore = await ledger();
    const ackTopic = `${platform.prefix}data.retention.ack`;
    const sent = await waitForMessage(ackTopic, (m) => m.key === requestId);
    const decoded = decodeEvent(sent.value!, [EventTypes.ack]);
    if (!decoded.ok || decoded.event.type !== EventTypes.ack) throw new Error('the service ack does not decode');
    const real = decoded.event.data;
    const sessionsKey = platform.keys.service('sessions');
    const unknownRequestId = randomUUID();

    await produceRaw(ackTopic, [
      // The service re-sending its stored ack (as it does when a command reaches it twice): a true duplicate.
      { key: sent.key, value: sent.value, headers: sent.headers },
      signedAck({ ...real, requestId: unknownRequestId }, sessionsKey),
      signedAck({ ...real, service: 'analytics' }, platform.keys.service('analytics')),
      signedAck({ ...real, dryRun: true }, sessionsKey),
      signedAck({ ...real, kind: 'erasure' }, sessionsKey),
      signedAck(
        {
          ...real,
          commandId: randomUUID(),
          status: 'failed',
          tables: [],
          error: { code: 'forged', message: 'contradicts the completed target', retriable: false },
        },
        sessionsKey,
      ),
    ]);

    const expected = ['contradiction', 'mismatch', 'mismatch', 'unknown_request', 'unknown_target'];
    const fromAcks = () => dlq.letters.filter((l) => l.consumer === 'coordinator.acks');
    await dlq.until('five rejected acks in the dead-letter topic', () => fromAcks().length >= expected.length);
    expect(
      fromAcks()
        .map((l) => l.reason.code)
        .sort(),
    ).toEqual(expected);
    for (const letter of fromAcks()) {
      expect(letter.topic).toBe(ackTopic);
      expect(letter.refs?.requestId).toBe(letter.reason.code === 'unknown_request' ? unknownRequestId : requestId);
    }
    const mismatches = fromAcks()
      .filter((l) => l.reason.code === 'mismatch')
      .map((l) => l.reason.message)
      .sort();
    expect(mismatches).toEqual(['the request has dryRun false, the ack says true', 'the request is a sweep, the ack says erasure']);
    expect(fromAcks().find((l) => l.reason.code === 'unknown_target')!.reason.message).toBe('service "analytics" is not a target of this request');
    expect(fromAcks().find((l) => l.reason.code === 'contradiction')!.reason.message).toBe(
      'the target already reported completed; this ack (failed) is not that report',
    );

    const text = await metrics();
    for (const reason of ['unknown_request', 'unknown_target', 'mismatch', 'contradiction']) {
      const n = expected.filter((r) => r === reason).length;
      expect(sample(text, 'retention_acks_rejected_total', { reason }), reason).toBe(n);
      expect(sample(text, 'retention_dead_letters_total', { consumer: 'coordinator.acks', reason }), reason).toBe(n);
    }
    expect(sample(text, 'retention_acks_total', { outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'retention_acks_rejected_total', { reason: 'duplicate' })).toBe(0);

    // Nothing changed: the request, its targets and counts, its ledger entries; no request was made up.
    expect(await view()).toEqual(completed);
    expect(await ledger()).toEqual(ledgerBefore);
    expect(await coordinatorDb().query(`SELECT count(*)::int AS n FROM retention_requests WHERE id = $1`, [unknownRequestId])).toEqual([{ n: 0 }]);
    expect((await platform.api('GET', '/v1/ledger/verify', { token: TOKENS.auditor })).body).toMatchObject({ ok: true });
  });
});

import { randomUUID } from 'node:crypto';
import { ConfigError, encodeEvent, EventTypes, signMessage } from '@retention/contracts';
import { startRetentionService } from '@retention/consumer';
import { analyticsService } from '@retention/service-analytics';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeadLetterWatch, sample, watchDeadLetters } from './dead-letter-watch';
import { produceRaw } from './kafka-helpers';
import { type Platform, startPlatform } from './support';

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Issue 8, "cutoffs that cannot reach the future": a client with broker access produces a sweep
 * "as of" the year 2100, which would make every row of every policy due. Each service refuses it
 * before doing anything (no inbox row, nothing deleted) and dead-letters it as cutoff_in_future;
 * cutoffs are never later than now minus the period; a period below the floor stops a service.
 */
describe('sweep cutoffs cannot reach the future', () => {
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

  const db = (service: string) => platform.services.get(service)!.dataSource;
  const count = async (service: string, table: string): Promise<number> =>
    ((await db(service).query(`SELECT count(*)::int AS n FROM ${table}`)) as Array<{ n: number }>)[0]!.n;

  /**
   * A sweep command as any Kafka client can write it from the AsyncAPI document, validly signed
   * with the coordinator's key: the worst case (a stolen key, or a coordinator bug), so that what
   * refuses it is the cutoff check and not the signature check.
   */
  async function produceSweep(key: string, requestId: string, asOf: Date, targets: string[] = []): Promise<void> {
    const topic = `${platform.prefix}data.retention`;
    const { value } = encodeEvent(
      EventTypes.sweepRequested,
      { requestId, dryRun: false, requestedAt: asOf.toISOString(), asOf: asOf.toISOString(), targets },
      { source: '/retention/coordinator' },
    );
    await produceRaw(topic, [{ key, value, headers: signMessage(platform.keys.coordinator, { topic, key, value }) }]);
  }

  async function addSession(user: string, startedAt: Date): Promise<void> {
    await db('sessions').query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, $2)`, [user, startedAt]);
  }

  it('a sweep as of 2100 produced on the broker deletes nothing in any service and is dead-lettered by each with cutoff_in_future', async () => {
    const now = Date.now();
    for (const days of [1, 30, 89]) await addSession('attack-target', new Date(now - days * DAY));
    for (const days of [1, 200, 390]) {
      await db('analytics').query(
        `INSERT INTO analytics_events (user_id, event_type, properties, occurred_at) VALUES ('attack-target', 'page_view', '{}', $1)`,
        [new Date(now - days * DAY)],
      );
    }
    const before = { sessions: await count('sessions', 'sessions'), analytics: await count('analytics', 'analytics_events') };

    const requestId = randomUUID();
    await produceSweep('sweep:*:*', requestId, new Date('2100-01-01T00:00:00.000Z'));

    const letters = await dlq.until('both services to dead-letter the sweep', (all) =>
      ['sessions', 'analytics'].every((service) => all.some((l) => l.consumer === service && l.refs?.requestId === requestId)),
    );
    for (const service of ['sessions', 'analytics']) {
      const letter = letters.find((l) => l.consumer === service && l.refs?.requestId === requestId)!;
      expect(letter.reason.code).toBe('cutoff_in_future');
      expect(letter.reason.message).toContain('2100-01-01T00:00:00.000Z');
      expect(letter.topic).toBe(`${platform.prefix}data.retention`);
    }

    expect({ sessions: await count('sessions', 'sessions'), analytics: await count('analytics', 'analytics_events') }).toEqual(before);
    for (const service of ['sessions', 'analytics']) {
      expect(await db(service).query(`SELECT status FROM retention_inbox WHERE request_id = $1`, [requestId]), service).toEqual([]);
      expect(await db(service).query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [requestId]), service).toEqual([{ n: 0 }]);
      const metrics = await (await fetch(`${platform.services.get(service)!.url}/metrics`)).text();
      expect(sample(metrics, 'retention_dead_letters_total', { consumer: service, reason: 'cutoff_in_future' }), service).toBe(1);
    }

    // The consumers are not wedged: a real sweep right after runs, with today's cutoffs.
    await addSession('attack-target', new Date(now - 100 * DAY));
    const created = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(created.status).toBe(202);
    const done = await waitFor('the real sweep', async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${created.body.id}`);
      return body.status === 'completed' ? body : undefined;
    });
    expect(done.targets[0].tables[0]).toMatchObject({ policy: 'session_logs', deleted: 1 });
    expect(await count('sessions', 'sessions')).toBe(before.sessions);
  });

  it('a sweep as of a few minutes ahead (within the clock skew) still cuts from now, not from its asOf', async () => {
    const now = Date.now();
    await db('sessions').query('DELETE FROM sessions');
    // Due by the command's asOf (now + 4.5 min), not yet by the clock: the sweep must keep it.
    await addSession('skew-kept', new Date(now - 90 * DAY + 3 * MINUTE));
    await addSession('skew-due', new Date(now - 90 * DAY - 60 * MINUTE));

    const requestId = randomUUID();
    await produceSweep('sweep:sessions:*', requestId, new Date(now + 4.5 * MINUTE), ['sessions']);
    await waitFor('the sweep to be applied', async () => {
      const [row] = (await db('sessions').query(`SELECT status FROM retention_inbox WHERE request_id = $1`, [requestId])) as Array<{ status: string }>;
      return row?.status === 'done' ? true : undefined;
    });
    expect(await db('sessions').query(`SELECT user_id FROM sessions ORDER BY user_id`)).toEqual([{ user_id: 'skew-kept' }]);
  });

  it('a service whose policy period is shorter than its floor (RETENTION_MIN_PERIOD_DAYS) refuses to start, naming the policy', async () => {
    const config = { ...platform.serviceConfigs.get('sessions')!, RETENTION_MIN_PERIOD_DAYS: 91 };
    const error = await startRetentionService(sessionsService, config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(
      'rules[0].retention: policy "session_logs" keeps data at least 90 day(s), shorter than the floor of 91 day(s)',
    );
  });
});

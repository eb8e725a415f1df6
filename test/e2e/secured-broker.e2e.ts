import { randomUUID } from 'node:crypto';
import { encodeEventVersion, EventTypes, signMessage, topicNames } from '@retention/contracts';
import { startRetentionService } from '@retention/consumer';
import { ordersService } from '@retention/service-orders';
import { sessionsService } from '@retention/service-sessions';
import { Kafka, logLevel } from 'kafkajs';
import { createTestLogger, uniqueTopicPrefix, waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completedAck, produceRaw, waitForDeadLetters } from './kafka-helpers';
import { publishRegistration } from './registry-helpers';
import { prepareSecuredPlatform, type SecuredPlatform } from './secured';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * The platform on the secured broker (SASL/SCRAM, StandardAuthorizer, no access without an ACL):
 * every process logs in as its own principal, and the ACLs of docs/security.md are what the
 * broker enforces. Each refusal below is a real attempt against the real broker.
 */

/** The Kafka error code behind a kafkajs error, however deeply kafkajs wrapped it. */
function kafkaErrorType(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const x = e as { type?: unknown; originalError?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof x.type === 'string' && x.type !== 'UNKNOWN') return x.type;
    return walk(x.originalError) ?? walk(x.cause) ?? x.errors?.map(walk).find(Boolean);
  };
  return walk(error);
}

/** The innermost error kafkajs wrapped (retries wrap the last attempt's error in `cause`). */
function rootCause(error: unknown): Error {
  let e = error as Error & { cause?: unknown; originalError?: unknown };
  while (e.cause instanceof Error || e.originalError instanceof Error) e = (e.cause instanceof Error ? e.cause : e.originalError) as typeof e;
  return e;
}

async function failureOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error('expected the broker to refuse, but it accepted');
}

/** Subscribes `client` to `topic` with `groupId` and returns the error the consumer crashes with. */
async function consumeFailure(client: Kafka, topic: string, groupId: string): Promise<unknown> {
  const consumer = client.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 0, restartOnFailure: async () => false } });
  try {
    const crashed = new Promise<unknown>((resolve) => consumer.on(consumer.events.CRASH, (event) => resolve(event.payload.error)));
    const received: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void received.push(String(message.value)) });
    const error = await Promise.race([crashed, new Promise((resolve) => setTimeout(() => resolve(undefined), 30_000))]);
    expect(received).toEqual([]);
    return error;
  } catch (error) {
    return error;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

describe('the secured broker (SASL/SCRAM + ACLs)', () => {
  let secured: SecuredPlatform;
  let platform: Platform;

  beforeAll(async () => {
    secured = await prepareSecuredPlatform(['sessions', 'orders']);
    platform = await startPlatform([sessionsService, ordersService], secured.options);
    await platform.services
      .get('sessions')!
      .dataSource.query(
        `INSERT INTO sessions (user_id, started_at, ip_address) VALUES ('alice', now() - interval '1 day', '198.51.100.1'), ('bob', now() - interval '1 day', '198.51.100.2')`,
      );
    await platform.services.get('orders')!.dataSource.query(
      `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at)
       VALUES ('alice', 'Alice', 'alice@example.org', '1 Main Street', '+49 30 1234567', 1999, 'EUR', now() - interval '3 days'),
              ('bob', 'Bob', 'bob@example.org', '2 Main Street', NULL, 2999, 'EUR', now() - interval '3 days')`,
    );
  });

  afterAll(async () => {
    await platform?.stop();
    await secured?.cleanup();
  });

  const topics = (): ReturnType<typeof topicNames> => topicNames(secured.prefix);
  const highWatermark = async (topic: string): Promise<string> => {
    const admin = secured.client('admin').admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).map((p) => `${p.partition}:${p.high}`).join(',');
    } finally {
      await admin.disconnect();
    }
  };
  const forgedErasure = (subjectId: string): string =>
    encodeEventVersion(
      EventTypes.erasureRequested,
      1,
      {
        requestId: randomUUID(),
        subject: { type: 'user', id: subjectId },
        requestedAt: new Date().toISOString(),
        dueAt: new Date(Date.now() + 86_400_000).toISOString(),
        targets: [],
      },
      { source: '/retention/coordinator' },
    ).value;

  it('runs an erasure end to end with every process logged in as its own principal', async () => {
    expect(platform.serviceConfigs.get('sessions')).toMatchObject({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'sessions' });
    expect(platform.serviceConfigs.get('orders')).toMatchObject({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'orders' });
    expect(platform.serviceConfigs.get('orders')!.KAFKA_BROKERS).toEqual(secured.stack.kafkaBrokers);

    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'alice' } } });
    expect(created.status).toBe(202);
    expect([...created.body.targets].sort()).toEqual(['orders', 'sessions']);
    const done = await platform.waitForRequest(created.body.id);
    expect(done.status).toBe('completed');
    const byService = Object.fromEntries(done.targets.map((t: any) => [t.service, t]));
    expect(byService.sessions).toMatchObject({ status: 'completed', tables: [expect.objectContaining({ table: 'sessions', deleted: 1 })] });
    expect(byService.orders).toMatchObject({ status: 'completed', tables: [expect.objectContaining({ table: 'orders', anonymized: 1 })] });

    const sessions = (await platform.services.get('sessions')!.dataSource.query(`SELECT user_id FROM sessions ORDER BY user_id`)) as unknown[];
    expect(sessions).toEqual([{ user_id: 'bob' }]);
    const orders = (await platform.services.get('orders')!.dataSource.query(`SELECT customer_name FROM orders ORDER BY amount_cents`)) as Array<{
      customer_name: string;
    }>;
    expect(orders[0]!.customer_name).not.toBe('Alice');
    expect(orders[1]!.customer_name).toBe('Bob');
  });

  it('refuses a client without credentials', async () => {
    const before = await highWatermark(topics().commands);
    const error = await failureOf(produceRaw(topics().commands, [{ key: 'user:bob', value: forgedErasure('bob') }], secured.client(null)));
    // SASL listeners drop a connection that does not start with a SASL handshake.
    // The broker closes the connection (it is not "refused": the port is open, the broker up).
    expect(rootCause(error).name).toBe('KafkaJSConnectionClosedError');
    expect(await highWatermark(topics().commands)).toBe(before);
  });

  it('refuses a wrong password', async () => {
    const admin = secured.client('orders', { password: 'not-the-password' }).admin();
    const error = await failureOf(admin.connect());
    expect((error as Error).name).toBe('KafkaJSSASLAuthenticationError');
  });

  it('refuses a command produced by a service principal (TOPIC_AUTHORIZATION_FAILED), and nothing is erased', async () => {
    const before = await highWatermark(topics().commands);
    const error = await failureOf(produceRaw(topics().commands, [{ key: 'user:bob', value: forgedErasure('bob') }], secured.client('orders')));
    expect(kafkaErrorType(error)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await highWatermark(topics().commands)).toBe(before);
    const bob = (await platform.services.get('sessions')!.dataSource.query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = 'bob'`)) as Array<{
      n: number;
    }>;
    expect(bob[0]!.n).toBe(1);
  });

  it('refuses a hold event and a hold tombstone produced by a service principal', async () => {
    const before = await highWatermark(topics().holds);
    const hold = encodeEventVersion(
      EventTypes.holdPlaced,
      1,
      {
        holdId: 'forged-hold',
        scope: 'subject',
        subject: { type: 'user', id: 'bob' },
        reason: 'forged',
        placedBy: 'sessions',
        placedAt: new Date().toISOString(),
      },
      { source: '/retention/coordinator' },
    ).value;
    const placed = await failureOf(produceRaw(topics().holds, [{ key: 'forged-hold', value: hold }], secured.client('sessions')));
    expect(kafkaErrorType(placed)).toBe('TOPIC_AUTHORIZATION_FAILED');
    const released = await failureOf(produceRaw(topics().holds, [{ key: 'some-hold-id', value: null }], secured.client('sessions')));
    expect(kafkaErrorType(released)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await highWatermark(topics().holds)).toBe(before);
  });

  it('refuses a ledger checkpoint produced by a service principal: only the coordinator writes them', async () => {
    const before = await highWatermark(topics().checkpoints);
    const error = await failureOf(produceRaw(topics().checkpoints, [{ key: '2026-01-01', value: '{}' }], secured.client('orders')));
    expect(kafkaErrorType(error)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await highWatermark(topics().checkpoints)).toBe(before);
  });

  it('does not let a service principal read the acks topic, nor use another service’s consumer group', async () => {
    // A group the principal may use (its holds prefix), so that only the topic is refused.
    const acks = await consumeFailure(secured.client('orders'), topics().acks, `${secured.prefix}retention.orders.holds.e2e-probe`);
    expect(kafkaErrorType(acks)).toBe('TOPIC_AUTHORIZATION_FAILED');

    // kafkajs reports a refused FindCoordinator only as "group coordinator not found" and logs the
    // broker's error code at debug level: read it there.
    const codes: string[] = [];
    const orders = new Kafka({
      clientId: 'e2e-orders-probe',
      brokers: secured.stack.kafkaBrokers,
      sasl: { mechanism: secured.stack.mechanism, username: 'orders', password: secured.stack.principals.orders!.password },
      retry: { retries: 0 },
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => {
        const type = (entry.log as { error?: { type?: unknown } }).error?.type;
        if (typeof type === 'string') codes.push(type);
      },
    });
    const group = await consumeFailure(orders, topics().commands, `${secured.prefix}retention.sessions`);
    expect((group as Error).name).toBe('KafkaJSGroupCoordinatorNotFound');
    expect(codes).toContain('GROUP_AUTHORIZATION_FAILED');
  });

  it('what the ACLs let a service write (acks, registrations) still counts only when signed with the right key', async () => {
    const dlq = (marker: string, reason: string) => waitForDeadLetters(topics().dlq, [{ marker, reason }], secured.client('admin'));
    // A request whose sessions target is pending: the sessions service is stopped for a moment.
    await platform.stopService('sessions');
    const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'bob' } } });
    const requestId = created.body.id as string;
    const ack = (service: string): { commandId: string; value: string } => completedAck(requestId, service);
    // The orders principal may write acks: unsigned, and signed with orders' own key, both speaking for sessions.
    const unsigned = ack('sessions');
    const crossSigned = ack('sessions');
    const orders = secured.client('orders');
    await produceRaw(topics().acks, [{ key: requestId, value: unsigned.value }], orders);
    await produceRaw(
      topics().acks,
      [
        {
          key: requestId,
          value: crossSigned.value,
          headers: signMessage(platform.keys.service('orders'), { topic: topics().acks, key: requestId, value: crossSigned.value }),
        },
      ],
      orders,
    );
    await dlq(unsigned.commandId, 'signature_missing');
    await dlq(crossSigned.commandId, 'signer_mismatch');
    // And may write registrations: a new service under its own key waits for approval.
    await publishRegistration(secured.prefix, 'legacy-crm', { keyId: 'legacy-crm-1', privateKey: platform.keys.service('orders').privateKey }, { via: orders });
    await waitFor('the registration to wait for approval', async () =>
      (await platform.api('GET', '/v1/services/legacy-crm')).body.status === 'pending_approval' ? true : undefined,
    );
    const view = (await platform.api('GET', `/v1/erasure-requests/${requestId}`)).body;
    expect(view.targets.find((t: { service: string }) => t.service === 'sessions').status).toBe('pending');
    expect(view.targets.map((t: { service: string }) => t.service)).not.toContain('legacy-crm');
    await platform.startService('sessions');
    expect((await platform.waitForRequest(requestId)).status).toBe('completed');
  });

  it('does not let a process create topics: without the admin having made them, it stops at start and says why', async () => {
    const config = { ...platform.serviceConfigs.get('sessions')!, RETENTION_TOPIC_PREFIX: uniqueTopicPrefix() };
    const { logger } = createTestLogger('sessions-unprepared');
    await expect(startRetentionService(sessionsService, config, { logger })).rejects.toThrow(/may not create them: an administrator creates them/);
    const admin = secured.client('admin').admin();
    await admin.connect();
    try {
      expect((await admin.listTopics()).filter((t) => t.startsWith(config.RETENTION_TOPIC_PREFIX))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});

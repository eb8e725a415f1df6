import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { commandSubjectAad, decodeEvent, EventTypes, openWith, parseKek, unwrapCommandKey } from '@retention/contracts';
import { ordersService } from '@retention/service-orders';
import { sessionsService } from '@retention/service-sessions';
import { testStack, uniqueSuffix, waitFor } from '@retention/testing';
import { trace } from '@opentelemetry/api';
import { Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const run = promisify(execFile);
const PG_DUMP = '/usr/lib/postgresql/15/bin/pg_dump';

/**
 * No personal data left behind, with a stated bound. Three erasures run for real (one completes,
 * one fails on a database error that quotes the id and is retried, one is held by a legal hold
 * and resumes when it is released, one whose target never acks and whose id the coordinator forgets
 * at the age limit), with the raw id typed into the reasons too. Once the bound
 * has passed (shortened here: command keys live 6 s), the raw id and its unkeyed SHA-256 are
 * searched in the raw bytes (keys, values, headers) of every Kafka topic of the test's prefix,
 * dead letters included, a pg_dump of every database, every log line, every metric of every
 * process and every span attribute: zero hits. And the sealed copies Kafka still holds no longer
 * open with any key the coordinator keeps.
 */
describe('privacy: no personal data left behind', () => {
  const exporter = new InMemorySpanExporter();
  let provider: NodeTracerProvider;
  let platform: Platform;
  const tag = uniqueSuffix();
  const completes = `privacy-a-${tag}@example.com`;
  const failsThenRetried = `privacy-b-${tag}@example.com`;
  const heldThenReleased = `privacy-c-${tag}@example.com`;
  const neverAcked = `privacy-d-${tag}@example.com`;
  const subjects = [completes, failsThenRetried, heldThenReleased, neverAcked];
  const needles = subjects.flatMap((id) => [id, createHash('sha256').update(id).digest('hex')]);

  beforeAll(async () => {
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    platform = await startPlatform([sessionsService, ordersService], {
      coordinatorEnv: {
        MAINTENANCE_INTERVAL_MS: '300',
        RETRY_BASE_SECONDS: '1',
        // The bound, shortened: a key per 2 s, destroyed 6 s after it was drawn.
        RETENTION_COMMAND_KEY_ROTATION_SECONDS: '2',
        RETENTION_COMMAND_KEY_LIFETIME_SECONDS: '6',
        // An open request forgets its subject after 25 s (the others complete well before).
        RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: '25',
        RETENTION_ERASURE_MAX_GRACE_SECONDS: '0',
      },
    });
  });

  afterAll(async () => {
    await platform?.stop();
    await provider?.shutdown();
  });

  const sessions = (): DataSource => platform.services.get('sessions')!.dataSource;
  const orders = (): DataSource => platform.services.get('orders')!.dataSource;
  const coordinatorDb = (): DataSource => platform.coordinator.dataSource;

  async function seed(id: string): Promise<void> {
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now()), ($1, now())`, [id]);
    await orders().query(
      `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at)
       VALUES ($1, 'Jane Roe', $1, '1 Main St', '555-0100', 1999, 'EUR', now())`,
      [id],
    );
  }

  async function erase(id: string): Promise<string> {
    const created = await platform.api('POST', '/v1/erasure-requests', {
      token: TOKENS.requester,
      body: { subject: { type: 'user', id }, reason: `ticket from ${id}` },
    });
    expect(created.status).toBe(202);
    return created.body.id as string;
  }

  it('erases subjects (completed, failed then retried, held then released, never acked and forgotten at the age limit) and leaves no trace of them once the bound has passed', async () => {
    // The fourth subject has no rows: its erasure is meant to fail, and rows it left would be the
    // service's own data, not a platform copy.
    for (const id of [completes, failsThenRetried, heldThenReleased]) await seed(id);

    // 1. An erasure that completes.
    const a = await erase(completes);
    expect((await platform.waitForRequest(a)).status).toBe('completed');

    // 2. One that fails: the database refuses with a message quoting the id (as PostgreSQL does in
    // "duplicate key" or "invalid input syntax"), then is retried once the cause is gone.
    await sessions().query(`
      CREATE FUNCTION privacy_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.user_id LIKE 'privacy-b-%' THEN RAISE EXCEPTION 'refusing to delete the sessions of %', OLD.user_id; END IF;
        RETURN OLD;
      END $$`);
    await sessions().query(`CREATE TRIGGER privacy_refuse BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION privacy_refuse()`);
    const b = await erase(failsThenRetried);
    expect((await platform.waitForRequest(b)).status).toBe('failed');
    await sessions().query(`DROP TRIGGER privacy_refuse ON sessions`);
    await sessions().query(`DROP FUNCTION privacy_refuse()`);
    expect((await platform.api('POST', `/v1/erasure-requests/${b}/retry`, { token: TOKENS.admin })).status).toBe(202);
    expect((await platform.waitForRequest(b, ['completed'])).status).toBe('completed');

    // 3. One held by a legal hold whose reason names the person, then released: it resumes.
    const hold = await platform.api('POST', '/v1/legal-holds', {
      token: TOKENS.admin,
      body: { scope: 'subject', subject: { type: 'user', id: heldThenReleased }, reason: `litigation: ${heldThenReleased} v. Shop` },
    });
    expect(hold.status).toBe(201);
    const c = await erase(heldThenReleased);
    expect((await platform.waitForRequest(c)).status).toBe('held');
    expect((await platform.api('DELETE', `/v1/legal-holds/${hold.body.id}`, { token: TOKENS.admin })).status).toBe(200);
    expect((await platform.waitForRequest(c, ['completed'])).status).toBe('completed');

    // 4. One whose target never acks (orders is down): after the age limit the coordinator forgets
    // the id and fails the request; a retry is refused (nothing left to send).
    await platform.stopService('orders');
    const d = await erase(neverAcked);
    const forgotten = await platform.waitForRequest(d, ['failed']);
    expect(forgotten.targets.find((t: any) => t.service === 'orders')).toMatchObject({ status: 'failed' });
    const entries = (await coordinatorDb().query(`SELECT entry_type, body FROM ledger_entries WHERE request_id = $1 ORDER BY seq`, [d])) as Array<{
      entry_type: string;
      body: any;
    }>;
    expect(entries.at(-1)).toMatchObject({ entry_type: 'request.failed', body: { reason: 'subject_forgotten' } });
    expect((await platform.api('POST', `/v1/erasure-requests/${d}/retry`, { token: TOKENS.admin })).status).toBe(409);
    await platform.startService('orders');

    for (const id of [completes, failsThenRetried, heldThenReleased]) {
      expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [id])).toEqual([{ n: 0 }]);
      expect(await orders().query(`SELECT count(*)::int AS n FROM orders WHERE customer_id = $1 OR email = $1`, [id])).toEqual([{ n: 0 }]);
    }

    // The keys that sealed these commands: after the bound every one is destroyed.
    const commandTopic = await readAll(`${platform.prefix}data.retention`);
    const ours = [a, b, c, d];
    const sealedIds = commandTopic.flatMap((m) => {
      const decoded = m.value ? decodeEvent(m.value, [EventTypes.erasureRequested]) : undefined;
      return decoded?.ok && decoded.event.type === EventTypes.erasureRequested && 'sealedId' in decoded.event.data.subject
        ? [{ requestId: decoded.event.data.requestId, type: decoded.event.data.subject.type, sealed: decoded.event.data.subject.sealedId }]
        : [];
    });
    expect(sealedIds.filter((s) => ours.includes(s.requestId)).length).toBeGreaterThanOrEqual(4);
    const usedKeys = [...new Set(sealedIds.map((s) => s.sealed.keyId))];
    await waitFor(
      'the bound: every key that sealed these commands destroyed, every reason and subject id erased',
      async () => {
        const [{ live }] = (await coordinatorDb().query(`SELECT count(*)::int AS live FROM command_keys WHERE key_id = ANY($1::text[])`, [usedKeys])) as [
          { live: number },
        ];
        const [{ kept }] = (await coordinatorDb().query(
          `SELECT (SELECT count(*) FROM retention_requests WHERE subject_id IS NOT NULL OR reason IS NOT NULL)
                + (SELECT count(*) FROM legal_holds WHERE subject_id IS NOT NULL OR reason IS NOT NULL) AS kept`,
        )) as [{ kept: string }];
        return live === 0 && Number(kept) === 0 ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );

    // Crypto-shredding: no key the coordinator still holds opens any sealed copy on the topic.
    const kek = parseKek(platform.keys.commandKek);
    const remaining = (await coordinatorDb().query(`SELECT key_id, wrapped FROM command_keys`)) as Array<{ key_id: string; wrapped: never }>;
    const keys = new Map(remaining.map((r) => [r.key_id, unwrapCommandKey(kek, r.key_id, r.wrapped)]));
    for (const s of sealedIds.filter((x) => ours.includes(x.requestId))) {
      expect(() => openWith((id) => keys.get(id), s.sealed, commandSubjectAad(s.requestId, s.type))).toThrow(/unknown or destroyed/);
    }
    // And the keys topic carries a tombstone for each destroyed key (compaction drops its wrapped copies).
    const keyMessages = await readAll(`${platform.prefix}data.retention.keys`);
    for (const keyId of usedKeys) expect(keyMessages.some((m) => m.key?.toString() === keyId && m.value === null)).toBe(true);

    // A canary in each place searched, which the search must find: it proves each search can fail.
    const canary = `privacy-canary-${tag}`;
    await sessions().query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now())`, [canary]);
    const canaryProducer = kafka().producer();
    await canaryProducer.connect();
    await canaryProducer.send({ topic: `${platform.prefix}data.retention.dlq`, messages: [{ key: 'canary', value: canary }] });
    await canaryProducer.disconnect();
    platform.coordinator.logger.info({ canary }, 'canary');
    trace.getTracer('privacy-e2e').startActiveSpan('canary', (span) => {
      span.setAttribute('canary', canary);
      span.end();
    });
    const canaries: string[] = [];

    // The search: raw bytes of every topic of this platform (dead letters included).
    const admin = kafka().admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(platform.prefix));
    await admin.disconnect();
    expect(topics).toEqual(expect.arrayContaining([`${platform.prefix}data.retention.dlq`, `${platform.prefix}data.retention.holds`]));
    const found: string[] = [];
    for (const topic of topics) {
      for (const m of await readAll(topic)) {
        const bytes = Buffer.concat([
          m.key ?? Buffer.alloc(0),
          m.value ?? Buffer.alloc(0),
          ...Object.entries(m.headers).flatMap(([k, v]) => [Buffer.from(k), v]),
        ]);
        for (const needle of needles) if (bytes.includes(Buffer.from(needle))) found.push(`${topic}: ${needle}`);
        if (bytes.includes(Buffer.from(canary))) canaries.push('kafka');
      }
    }

    // A dump of every database of the test (as the superuser: everything, ledger included).
    const databases = [sessions(), orders(), coordinatorDb()].map((ds) => new URL((ds.options as { url: string }).url).pathname.slice(1));
    for (const name of databases) {
      const url = new URL(testStack().databaseUrl);
      url.pathname = `/${name}`;
      const { stdout } = await run(PG_DUMP, ['--no-owner', '--data-only', url.toString()], { maxBuffer: 256 * 1024 * 1024 });
      expect(stdout).toMatch(/COPY public\.(retention_inbox|ledger_entries)/);
      for (const needle of needles) if (stdout.includes(needle)) found.push(`pg_dump ${name} ${copyBlockOf(stdout, needle)}: ${needle}`);
      if (stdout.includes(canary)) canaries.push('pg_dump');
    }

    // Every log line of every process (the failed erasure's database error included).
    const logs = platform.logs.join('\n');
    expect(logs).toContain('SQLSTATE P0001');
    for (const needle of needles) if (logs.includes(needle)) found.push(`logs: ${needle}`);
    if (logs.includes(canary)) canaries.push('logs');

    // Every metric (labels and all) of every process.
    const metricUrls = [platform.coordinator.url, ...[...platform.services.values()].map((s) => s.url)].map((u) => `${u.replace(/\/$/, '')}/metrics`);
    for (const url of metricUrls) {
      const text = await (await fetch(url)).text();
      expect(text).toContain('# TYPE');
      for (const needle of needles) if (text.includes(needle)) found.push(`${url}: ${needle}`);
    }

    // Every span attribute (the platform's own spans, from the HTTP call through Kafka and back).
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(10);
    const attributes = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => e.attributes)]));
    for (const needle of needles) if (attributes.includes(needle)) found.push(`spans: ${needle}`);
    if (attributes.includes(canary)) canaries.push('spans');

    expect(found).toEqual([]);
    expect(canaries.sort()).toEqual(['kafka', 'logs', 'pg_dump', 'spans']);
  });

  /** The table (COPY block) of a dump where `needle` occurs, to say where a leak is. */
  const copyBlockOf = (dump: string, needle: string): string => {
    const before = dump.slice(0, dump.indexOf(needle));
    return /COPY (\S+)/.exec(before.slice(before.lastIndexOf('\nCOPY ')))?.[1] ?? '(schema)';
  };

  const kafka = (): Kafka => new Kafka({ clientId: `e2e-privacy-${uniqueSuffix()}`, brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });

  /** Every message of `topic` up to its current end, as raw bytes (key, value, headers). */
  async function readAll(topic: string): Promise<Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }>> {
    const client = kafka();
    const admin = client.admin();
    await admin.connect();
    const ends = (await admin.fetchTopicOffsets(topic)).filter((p) => BigInt(p.high) > BigInt(p.low));
    await admin.disconnect();
    if (ends.length === 0) return [];
    const consumer = client.consumer({ groupId: `e2e-privacy-reader-${uniqueSuffix()}` });
    const out: Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }> = [];
    const reached = new Map<number, bigint>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push({
            key: message.key,
            value: message.value,
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(String(v))])),
          });
          reached.set(partition, BigInt(message.offset) + 1n);
        },
      });
      await waitFor(
        `${topic} read to its end`,
        async () => (ends.every((p) => (reached.get(p.partition) ?? BigInt(p.low)) >= BigInt(p.high)) ? true : undefined),
        {
          timeoutMs: 30_000,
        },
      );
    } finally {
      await consumer.disconnect();
    }
    return out;
  }
});

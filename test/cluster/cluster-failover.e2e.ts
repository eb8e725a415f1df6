import { topicNames } from '@retention/contracts';
import { ordersService } from '@retention/service-orders';
import { sessionsService } from '@retention/service-sessions';
import { testStack, waitFor } from '@retention/testing';
import { type Admin, ConfigResourceTypes, Kafka, logLevel, Partitioners, type PartitionMetadata } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from '../e2e/support';
import { brokerPid, CLUSTER_BROKERS, upCluster } from './cluster-stack';

/**
 * The platform on a real 3-broker KRaft cluster (deploy/local, RETENTION_KAFKA_BROKERS=3; topics
 * with 3 replicas and min.insync.replicas=2, producers with acks=all): the broker that leads the
 * command partitions is killed with SIGKILL in the middle of a fan-out of 500 erasures and in the
 * middle of a sweep, then restarted with deploy/local/up.sh. Every request completes, nothing is
 * applied twice, the counts are exact and the ledger verifies. The time to recover is printed
 * (a figure, not an assertion).
 */
const ERASURES = 500;
const SWEEP_ROWS = 60_000;
const CONCURRENCY = 16;

interface Figures {
  [name: string]: number | string;
}

/** The "local replica of <topic> is still behind" errors the services logged so far, by topic. */
let platformLogs: () => string[] = () => [];
function catchUpTimeouts(): string {
  const topics = platformLogs().flatMap((line) => [...(/local replica of (\S+) is still behind/.exec(line)?.slice(1, 2) ?? [])]);
  return [...new Set(topics)].map((t) => `${t} x${topics.filter((x) => x === t).length}`).join(', ') || 'none';
}

/** Prints a scenario's figures (CI logs keep them; nothing asserts on time). */
function report(scenario: string, figures: Figures): void {
  process.stdout.write(`[cluster-failover] ${scenario} figures:\n${JSON.stringify(figures, null, 2)}\n`);
}

describe('3-broker cluster: the leader of the command partitions dies mid-fan-out and mid-sweep', () => {
  let platform: Platform;
  let admin: Admin;
  const { stateDir } = inject('cluster');
  const partitioner = Partitioners.DefaultPartitioner();

  beforeAll(async () => {
    const kafka = new Kafka({ clientId: 'cluster-e2e-admin', brokers: testStack().kafkaBrokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    platform = await startPlatform([sessionsService, ordersService]);
    platformLogs = () => platform.logs;
  });

  afterAll(async () => {
    // A failed test may have left a node down: bring the cluster back whole for the next run.
    if (Array.from({ length: CLUSTER_BROKERS }, (_, i) => brokerPid(stateDir, i + 1)).some((pid) => pid === undefined)) await upCluster();
    await platform?.stop();
    await admin?.disconnect();
  });

  const topics = () => topicNames(platform.prefix);
  const sessions = () => platform.services.get('sessions')!.dataSource;
  const orders = () => platform.services.get('orders')!.dataSource;
  const coordinatorDb = () => platform.coordinator.dataSource;

  async function commandPartitions(): Promise<PartitionMetadata[]> {
    const {
      topics: [meta],
    } = await admin.fetchTopicMetadata({ topics: [topics().commands] });
    return meta!.partitions;
  }

  /** The partition of the commands topic a key goes to (kafkajs' default partitioner, as the coordinator's producer uses). */
  function partitionOf(key: string, partitions: PartitionMetadata[]): number {
    return partitioner({ topic: topics().commands, partitionMetadata: partitions, message: { key, value: null } });
  }

  /** SIGKILLs node `id` (its PID from the state dir); resolves once the process is gone. */
  async function killBroker(id: number): Promise<number> {
    const pid = brokerPid(stateDir, id);
    if (pid === undefined) throw new Error(`broker ${id} is not running`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`broker ${id} (pid ${pid}) to exit`, async () => (brokerPid(stateDir, id) === undefined ? true : undefined), { intervalMs: 20 });
    return pid;
  }

  /** Waits until every command partition has a live leader other than `dead`; returns when that was seen. */
  async function waitForNewLeaders(dead: number): Promise<number> {
    await waitFor(
      `new leaders for the command partitions of broker ${dead}`,
      async () => {
        const partitions = await commandPartitions();
        return partitions.every((p) => p.leader >= 0 && p.leader !== dead) ? true : undefined;
      },
      { intervalMs: 100, timeoutMs: 60_000 },
    );
    return Date.now();
  }

  /** Waits until every partition of every platform topic has all its replicas in sync again. */
  async function waitForFullIsr(): Promise<number> {
    const names = Object.values(topics());
    await waitFor(
      'every replica back in sync',
      async () => {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: names });
        return meta.every((t) => t.partitions.every((p) => p.isr.length === CLUSTER_BROKERS)) ? true : undefined;
      },
      { intervalMs: 250, timeoutMs: 120_000 },
    );
    return Date.now();
  }

  /** The broker leading the most command partitions (ties: the lowest id), and the partitions it leads. */
  async function commandLeader(): Promise<{ id: number; partitions: number[] }> {
    const partitions = await commandPartitions();
    const led = new Map<number, number[]>();
    for (const p of partitions) led.set(p.leader, [...(led.get(p.leader) ?? []), p.partitionId]);
    const [id, list] = [...led].sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0]!;
    return { id, partitions: list.sort((a, b) => a - b) };
  }

  async function verifyLedger(): Promise<void> {
    const verify = await platform.api('GET', '/v1/ledger/verify?full=true', { token: TOKENS.auditor });
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ ok: true });
  }

  it('creates every platform topic with 3 replicas and min.insync.replicas=2 (replication factor -1 = the broker default)', async () => {
    const names = Object.values(topics());
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: names });
    expect(meta).toHaveLength(names.length);
    for (const t of meta) for (const p of t.partitions) expect({ topic: t.name, replicas: p.replicas.length }).toEqual({ topic: t.name, replicas: 3 });
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas', 'unclean.leader.election.enable'] })),
    });
    for (const r of resources) {
      const value = (name: string) => r.configEntries.find((e) => e.configName === name)?.configValue;
      expect({ topic: r.resourceName, minIsr: value('min.insync.replicas'), unclean: value('unclean.leader.election.enable') }).toEqual({
        topic: r.resourceName,
        minIsr: '2',
        unclean: 'false',
      });
    }
  });

  it(`a fan-out of ${ERASURES} erasures survives a SIGKILL of the command partitions' leader: all complete, none applied twice`, async () => {
    const subjects = Array.from({ length: ERASURES }, (_, i) => `fan-${i}`);
    await sessions().query(
      `INSERT INTO sessions (user_id, started_at) SELECT 'fan-' || u, now() - make_interval(hours => d) FROM generate_series(0, $1::int - 1) u, generate_series(0, 1) d`,
      [ERASURES],
    );
    await sessions().query(`INSERT INTO sessions (user_id, started_at) SELECT 'keep-' || u, now() FROM generate_series(1, 200) u`);
    await orders().query(
      `INSERT INTO orders (customer_id, customer_name, email, shipping_address, phone, amount_cents, currency, created_at)
       SELECT 'fan-' || u, 'Customer ' || u, 'c' || u || '@example.com', u || ' Main Street', '+1555' || lpad(u::text, 7, '0'), 1000 + u, 'EUR', now()
       FROM generate_series(0, $1::int - 1) u`,
      [ERASURES],
    );

    const victim = await commandLeader();
    const completedCount = async (): Promise<number> => {
      const [{ n }] = (await coordinatorDb().query(`SELECT count(*)::int AS n FROM retention_requests WHERE kind = 'erasure' AND status = 'completed'`)) as [
        { n: number },
      ];
      return n;
    };

    // Issue every request, CONCURRENCY at a time, while the broker dies below.
    const ids: string[] = [];
    const startedAt = Date.now();
    let next = 0;
    const issuing = Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < subjects.length) {
          const subject = subjects[next++]!;
          const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: subject } } });
          expect(created.status).toBe(202);
          ids.push(created.body.id);
        }
      }),
    );

    // Mid-fan-out: a fifth of the requests complete, most are still to be issued or in flight.
    await waitFor('a fifth of the erasures to complete', async () => ((await completedCount()) >= ERASURES / 5 ? true : undefined), {
      intervalMs: 50,
      timeoutMs: 120_000,
    });
    const killedAt = Date.now();
    const issuedAtKill = ids.length;
    const completedAtKill = await completedCount();
    const pid = await killBroker(victim.id);
    const newLeadersAt = await waitForNewLeaders(victim.id);
    const restartStartedAt = Date.now();
    const restart = upCluster().then(() => Date.now());

    await issuing;
    expect(ids).toHaveLength(ERASURES);
    await waitFor('every erasure to complete', async () => ((await completedCount()) === ERASURES ? true : undefined), { intervalMs: 200, timeoutMs: 180_000 });
    const allCompleteAt = Date.now();
    const restartedAt = await restart;
    const isrAt = await waitForFullIsr();

    // Every request completed, at every service.
    const requests = (await coordinatorDb().query(
      `SELECT id, status, subject_ref, created_at, completed_at FROM retention_requests WHERE id = ANY($1::uuid[])`,
      [ids],
    )) as Array<{ id: string; status: string; subject_ref: string; created_at: Date; completed_at: Date }>;
    expect(requests).toHaveLength(ERASURES);
    expect(requests.filter((r) => r.status !== 'completed')).toEqual([]);
    const targets = (await coordinatorDb().query(
      `SELECT service, status, count(*)::int AS n FROM request_targets WHERE request_id = ANY($1::uuid[]) GROUP BY service, status ORDER BY service`,
      [ids],
    )) as unknown[];
    expect(targets).toEqual([
      { service: 'orders', status: 'completed', n: ERASURES },
      { service: 'sessions', status: 'completed', n: ERASURES },
    ]);
    // One ack on the ledger per request and service, whatever was delivered twice.
    const acks = (await coordinatorDb().query(
      `SELECT count(*)::int AS acks, count(DISTINCT (request_id, service))::int AS pairs FROM ledger_entries WHERE entry_type = 'ack.received' AND request_id = ANY($1::uuid[])`,
      [ids],
    )) as unknown[];
    expect(acks).toEqual([{ acks: 2 * ERASURES, pairs: 2 * ERASURES }]);

    // Exactly one applied batch per request per service, exact counts, nothing else touched.
    const audit = async (db: typeof sessions, counted: 'deleted' | 'anonymized') =>
      (await db().query(
        `SELECT count(*)::int AS batches, count(DISTINCT request_id)::int AS requests, sum(${counted})::int AS rows FROM retention_audit WHERE request_id = ANY($1::uuid[])`,
        [ids],
      )) as unknown[];
    expect(await audit(sessions, 'deleted')).toEqual([{ batches: ERASURES, requests: ERASURES, rows: 2 * ERASURES }]);
    expect(await audit(orders, 'anonymized')).toEqual([{ batches: ERASURES, requests: ERASURES, rows: ERASURES }]);
    const inbox = async (db: typeof sessions) =>
      (await db().query(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'done')::int AS done, count(*) FILTER (WHERE deliveries > 1)::int AS redelivered
         FROM retention_inbox WHERE request_id = ANY($1::uuid[])`,
        [ids],
      )) as Array<{ n: number; done: number; redelivered: number }>;
    const [sessionsInbox] = await inbox(sessions);
    const [ordersInbox] = await inbox(orders);
    expect(sessionsInbox).toMatchObject({ n: ERASURES, done: ERASURES });
    expect(ordersInbox).toMatchObject({ n: ERASURES, done: ERASURES });
    expect(
      await sessions().query(
        `SELECT count(*) FILTER (WHERE user_id LIKE 'fan-%')::int AS fan, count(*) FILTER (WHERE user_id LIKE 'keep-%')::int AS keep FROM sessions`,
      ),
    ).toEqual([{ fan: 0, keep: 200 }]);
    expect(await orders().query(`SELECT count(*)::int AS n FROM orders WHERE customer_id LIKE 'fan-%'`)).toEqual([{ n: 0 }]);
    await verifyLedger();

    // Figures: which requests the dead broker's partitions carried, and how long they waited.
    const partitions = await commandPartitions();
    const affected = requests.filter((r) => victim.partitions.includes(partitionOf(r.subject_ref, partitions)));
    const inFlight = requests.filter((r) => r.created_at.getTime() <= killedAt && r.completed_at.getTime() > killedAt);
    // The longest time after the kill in which no request completed (the outage as callers see it).
    const completions = [killedAt, ...requests.map((r) => r.completed_at.getTime()).filter((t) => t > killedAt)].sort((a, b) => a - b);
    const longestPause = Math.max(...completions.slice(1).map((t, i) => t - completions[i]!));
    const figures: Figures = {
      erasures: ERASURES,
      services: 2,
      killedBroker: `node ${victim.id} (pid ${pid}), leader of command partitions ${victim.partitions.join(',')}`,
      issuedAtKill,
      completedAtKill,
      inFlightAtKill: inFlight.length,
      inFlightAtKillOnDeadLeadersPartitions: inFlight.filter((r) => affected.includes(r)).length,
      requestsOnDeadLeadersPartitions: affected.length,
      newLeadersMs: newLeadersAt - killedAt,
      firstCompletionAfterKillMs: completions[1]! - killedAt,
      longestPauseWithoutCompletionMs: longestPause,
      allCompleteAfterKillMs: allCompleteAt - killedAt,
      brokerRestartMs: restartedAt - restartStartedAt,
      replicasInSyncAfterKillMs: isrAt - killedAt,
      totalFanOutMs: allCompleteAt - startedAt,
      redeliveredCommands: `sessions ${sessionsInbox!.redelivered}, orders ${ordersInbox!.redelivered} (applied once each)`,
      catchUpTimeoutsLogged: catchUpTimeouts(),
    };
    report('fan-out', figures);
    // The kill came mid-work: requests were still to complete, some of them on the dead broker's partitions.
    expect(completedAtKill).toBeLessThan(ERASURES);
    expect(figures.inFlightAtKillOnDeadLeadersPartitions).toBeGreaterThan(0);
  }, 300_000);

  it('a sweep survives a SIGKILL of the leader of its command partition: it completes with exact counts, no batch applied twice', async () => {
    await sessions().query(
      `INSERT INTO sessions (user_id, started_at) SELECT 'old-' || (g % 1000), now() - interval '100 days' - make_interval(secs => g) FROM generate_series(1, $1) g`,
      [SWEEP_ROWS],
    );
    // Statistics as a table in use has them: without them, after the fan-out's deletes, the first
    // batch's plan can run into the statement timeout (a planner matter, not this test's).
    await sessions().query('ANALYZE sessions');
    const partitions = await commandPartitions();
    // The coordinator keys a sweep's command by its scope (services/coordinator/src/requests/commands.ts).
    const partition = partitionOf('sweep:sessions:*', partitions);
    const victim = partitions.find((p) => p.partitionId === partition)!.leader;

    const redelivered = async (): Promise<number> =>
      ((await sessions().query(`SELECT count(*)::int AS n FROM retention_inbox WHERE deliveries > 1`)) as [{ n: number }])[0].n;
    const redeliveredBefore = await redelivered();
    const startedAt = Date.now();
    const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(sweep.status).toBe(202);
    const batches = async (): Promise<number> => {
      const [{ n }] = (await sessions().query(`SELECT count(*)::int AS n FROM retention_audit WHERE request_id = $1`, [sweep.body.id])) as [{ n: number }];
      return n;
    };
    const deliveredAt = await waitFor(
      'the sweep command to reach the service',
      async () => ((await sessions().query(`SELECT 1 FROM retention_inbox WHERE request_id = $1`, [sweep.body.id])).length > 0 ? Date.now() : undefined),
      { intervalMs: 20, timeoutMs: 120_000 },
    );
    await waitFor('a few batches of the sweep', async () => ((await batches()) >= 3 ? true : undefined), { intervalMs: 20, timeoutMs: 120_000 });
    const killedAt = Date.now();
    const batchesAtKill = await batches();
    const pid = await killBroker(victim);
    const newLeadersAt = await waitForNewLeaders(victim);
    const restartStartedAt = Date.now();
    const restart = upCluster().then(() => Date.now());

    const done = await waitFor(
      'the sweep to complete',
      async () => {
        const { body } = await platform.api('GET', `/v1/sweeps/${sweep.body.id}`);
        return body.status === 'completed' ? body : undefined;
      },
      { intervalMs: 200, timeoutMs: 180_000 },
    );
    const completedAt = Date.now();
    const restartedAt = await restart;
    const isrAt = await waitForFullIsr();

    expect(done.targets).toEqual([
      expect.objectContaining({
        service: 'sessions',
        status: 'completed',
        tables: [expect.objectContaining({ policy: 'session_logs', matched: SWEEP_ROWS, deleted: SWEEP_ROWS, held: 0 })],
      }),
    ]);
    expect(await sessions().query(`SELECT count(*)::int AS n FROM sessions WHERE started_at < now() - interval '90 days'`)).toEqual([{ n: 0 }]);
    // Every batch committed once: the audit rows add up to the rows deleted, not more.
    const [audit] = (await sessions().query(`SELECT count(*)::int AS batches, sum(deleted)::int AS deleted FROM retention_audit WHERE request_id = $1`, [
      sweep.body.id,
    ])) as Array<{ batches: number; deleted: number }>;
    expect(audit!.deleted).toBe(SWEEP_ROWS);
    // The kill came mid-sweep: batches were still to run.
    expect(batchesAtKill).toBeLessThan(audit!.batches);
    const [inbox] = (await sessions().query(`SELECT status, deliveries FROM retention_inbox WHERE request_id = $1`, [sweep.body.id])) as Array<{
      status: string;
      deliveries: number;
    }>;
    expect(inbox).toMatchObject({ status: 'done' });
    expect(
      await coordinatorDb().query(`SELECT count(*)::int AS n FROM ledger_entries WHERE entry_type = 'ack.received' AND request_id = $1`, [sweep.body.id]),
    ).toEqual([{ n: 1 }]);
    await verifyLedger();

    const timeline = (await sessions().query(`SELECT created_at FROM retention_audit WHERE request_id = $1 ORDER BY id`, [sweep.body.id])) as Array<{
      created_at: Date;
    }>;
    const figures: Figures = {
      sweptRows: SWEEP_ROWS,
      batchTimesMs: timeline.map((b) => b.created_at.getTime() - startedAt).join(','),
      killedBroker: `node ${victim} (pid ${pid}), leader of command partition ${partition}`,
      commandDeliveredAfterMs: deliveredAt - startedAt,
      batchesAtKill,
      batchesTotal: audit!.batches,
      commandDeliveries: inbox!.deliveries,
      sessionsCommandsRedeliveredBeforeAfter: `${redeliveredBefore},${await redelivered()}`,
      catchUpTimeoutsLogged: catchUpTimeouts(),
      newLeadersMs: newLeadersAt - killedAt,
      sweepCompleteAfterKillMs: completedAt - killedAt,
      brokerRestartMs: restartedAt - restartStartedAt,
      replicasInSyncAfterKillMs: isrAt - killedAt,
      totalSweepMs: completedAt - startedAt,
    };
    report('sweep', figures);
  }, 300_000);
});

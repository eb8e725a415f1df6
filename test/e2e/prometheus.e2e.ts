import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyticsService } from '@retention/service-analytics';
import { sessionsService } from '@retention/service-sessions';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample } from './dead-letter-watch';
import { completedAck, produceRaw, produceSigned } from './kafka-helpers';
import { type PromAlert, type PrometheusServer, startPrometheus } from './prometheus-server';
import { type Platform, startPlatform, TOKENS } from './support';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALERTS = join(ROOT, 'deploy/prometheus/alerts.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/retention.json');
const DAY = 86_400_000;

interface PanelQuery {
  panel: string;
  expr: string;
}

/**
 * Every target `expr` of every panel (rows' nested panels too), with Grafana's variables replaced by
 * what Grafana would send: the interval variables by a window, a dashboard variable by "all".
 */
function dashboardQueries(): PanelQuery[] {
  interface Panel {
    title: string;
    panels?: Panel[];
    targets?: Array<{ expr?: string }>;
  }
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating?: { list?: Array<{ name: string; type: string }> } };
  const variables = (dashboard.templating?.list ?? []).filter((v) => v.type !== 'datasource').map((v) => v.name);
  const substitute = (expr: string): string => {
    let out = expr.replace(/\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}/g, '1m').replace(/\$__range|\$\{__range\}/g, '1h');
    for (const name of variables) out = out.replace(new RegExp(`\\$\\{${name}(:[a-z]+)?\\}|\\$${name}\\b`, 'g'), '.*');
    return out;
  };
  const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(dashboard.panels).flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ panel: p.title, expr: substitute(t.expr!) })));
}

/**
 * Issue 11 item 4, "alerts you can trust": a real Prometheus (Debian's `prometheus` binary) on
 * loopback scrapes the running coordinator and services with the real deploy/prometheus/alerts.yml
 * loaded. Read back through its HTTP API: the gauge of expired rows, the alerts it drives, a dead
 * letter firing RetentionDeadLetters, a stopped service's absence alert, and every panel of
 * deploy/grafana/retention.json returning data. The rules run as written (no `for:` shortened):
 * alerts with a `for:` are checked in their pending state, RetentionDeadLetters (no `for:`) firing.
 */
describe('a real Prometheus scraping the platform', () => {
  let platform: Platform;
  let prometheus: PrometheusServer;
  let seededAt: number;

  beforeAll(async () => {
    // Gauges read from a database refresh every second, as often as Prometheus scrapes here.
    const refresh = { METRICS_REFRESH_SECONDS: '1' };
    platform = await startPlatform([sessionsService, analyticsService], {
      coordinatorEnv: refresh,
      serviceEnv: { sessions: refresh, analytics: refresh },
    });
    seededAt = Date.now();
    // One session 100 days old under a 90-day policy: 10 days overdue. One analytics event past its 13 months.
    await db('sessions').query(`INSERT INTO sessions (user_id, started_at) VALUES ('expired', $1)`, [new Date(seededAt - 100 * DAY)]);
    await db('analytics').query(`INSERT INTO analytics_events (user_id, event_type, properties, occurred_at) VALUES ('expired', 'page_view', '{}', $1)`, [
      new Date(seededAt - 400 * DAY),
    ]);
    const processes = [{ name: 'coordinator', running: platform.coordinator }, ...[...platform.services].map(([name, running]) => ({ name, running }))];
    prometheus = await startPrometheus({ targets: processes.map((p) => ({ name: p.name, metricsUrl: metricsUrl(p.running) })), ruleFiles: [ALERTS] });
    await waitFor(
      'every target to be scraped',
      async () => {
        const targets = await prometheus.targets();
        return targets.length === processes.length && targets.every((t) => t.health === 'up') ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await prometheus?.stop();
    await platform?.stop();
  });

  const db = (service: string) => platform.services.get(service)!.dataSource;

  /** Where a process serves its metrics: /metrics on the metrics port it reports (METRICS_PORT), else on its HTTP port. */
  function metricsUrl(running: { url: string; metricsUrl?: string }): string {
    return new URL('/metrics', running.metricsUrl ?? running.url).href;
  }

  /** Waits until `expr` returns a series whose value satisfies `match`. */
  const until = (description: string, expr: string, match: (value: number) => boolean = () => true) =>
    waitFor(
      description,
      async () => {
        const series = await prometheus.query(expr);
        return series.some((s) => match(s.value)) ? series : undefined;
      },
      { timeoutMs: 30_000 },
    );

  const activeAlert = (description: string, match: (alert: PromAlert) => boolean) =>
    waitFor(
      description,
      async () => {
        const alerts = await prometheus.alerts();
        return alerts.find(match);
      },
      { timeoutMs: 30_000 },
    );

  it('reads retention_oldest_unprocessed_days of the seeded rows back, and the falling-behind alerts it drives', async () => {
    const [series] = await until('the sessions gauge', 'retention_oldest_unprocessed_days{service="sessions",policy="session_logs"}', (v) => v > 0);
    // 100 days old, 90 kept: 10 days past, plus the seconds since seeding.
    expect(series!.value).toBeCloseTo(10 + (Date.now() - seededAt) / DAY, 2);
    expect(series!.metric).toMatchObject({ job: 'retention', process: 'sessions' });
    const [analytics] = await until('the analytics gauge', 'retention_oldest_unprocessed_days{service="analytics",policy="product_events"}', (v) => v > 0);
    // 400 days old, 13 calendar months kept (393 to 397 days): 3 to 7 days past.
    expect(analytics!.value).toBeGreaterThan(2.9);
    expect(analytics!.value).toBeLessThan(7.1);

    // Past 2 and 7 days: both alerts hold, pending for their `for:` (6 h and 1 h as written).
    for (const alertname of ['RetentionFallingBehind', 'RetentionFarBehind']) {
      const alert = await activeAlert(`${alertname} for sessions`, (a) => a.labels.alertname === alertname && a.labels.service === 'sessions');
      expect(alert).toMatchObject({ state: 'pending', labels: { policy: 'session_logs' } });
    }
  });

  it('every dashboard panel returns data after erasures, a held erasure, sweeps, a dead letter and a rejected ack; RetentionDeadLetters fires', async () => {
    const ackTopic = `${platform.prefix}data.retention.ack`;
    const holds: string[] = [];
    let heldRows = 0;

    async function round(n: number): Promise<void> {
      const [plain, held] = [`plain-${n}`, `held-${n}`];
      for (const user of [plain, held]) {
        await db('sessions').query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now()), ($1, now() - interval '1 day')`, [user]);
        await db('analytics').query(`INSERT INTO analytics_events (user_id, event_type, properties, occurred_at) VALUES ($1, 'page_view', '{}', now())`, [
          user,
        ]);
      }
      // Round 1: a record hold on one of the held subject's sessions (its erasure deletes the other);
      // round 2: a subject hold on sessions (its erasure keeps both). Either way the erasure is held.
      const [row] = (await db('sessions').query(`SELECT id FROM sessions WHERE user_id = $1 ORDER BY id LIMIT 1`, [held])) as Array<{ id: string }>;
      const hold = await platform.api('POST', '/v1/legal-holds', {
        body:
          n === 1
            ? { reason: 'evidence', scope: 'record', service: 'sessions', table: 'sessions', recordKey: String(row!.id) }
            : { reason: 'litigation', scope: 'subject', subject: { type: 'user', id: held }, service: 'sessions' },
      });
      expect(hold.status).toBe(201);
      holds.push(hold.body.id as string);
      heldRows += n === 1 ? 1 : 2;
      const ids: string[] = [];
      for (const user of [plain, held]) {
        const created = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: user } } });
        expect(created.status).toBe(202);
        ids.push(created.body.id as string);
      }
      const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'analytics' } });
      expect(sweep.status).toBe(202);
      // A message no service can read on the command topic, and an authentic ack about no request.
      await produceRaw(`${platform.prefix}data.retention`, [{ key: `garbage-${n}`, value: '{"not": "a command"' }]);
      const ack = completedAck(randomUUID(), 'sessions');
      await produceSigned(platform.keys.service('sessions'), ackTopic, [{ key: randomUUID(), value: ack.value }]);

      expect((await platform.waitForRequest(ids[0]!, ['completed'])).status).toBe('completed');
      expect((await platform.waitForRequest(ids[1]!, ['held'])).status).toBe('held');
      await waitFor('the sweep to complete', async () => {
        const { body } = await platform.api('GET', `/v1/sweeps/${sweep.body.id}`);
        return body.status === 'completed' ? true : undefined;
      });
      for (const service of ['sessions', 'analytics'])
        await waitFor(`${service} to dead-letter garbage-${n}`, async () => {
          const text = await (await fetch(metricsUrl(platform.services.get(service)!))).text();
          return text.match(/^retention_dead_letters_total\{.*\} (\d+)$/gm)?.some((l) => Number(l.split(' ').pop()) >= n) ? true : undefined;
        });
      await waitFor('the coordinator to reject the ack', async () => {
        const text = await (await fetch(metricsUrl(platform.coordinator))).text();
        return sample(text, 'retention_acks_rejected_total', { reason: 'unknown_request' }) >= n ? true : undefined;
      });
      // Prometheus has this round's counters (rates need the next round to move them between scrapes).
      await until(`round ${n} scraped`, 'sum(retention_run_duration_seconds_count{service="analytics",policy!="erasure"})', (v) => v >= n);
      await until(`round ${n} acks scraped`, 'sum(retention_ack_latency_seconds_count)', (v) => v >= 4 * n);
      await until(`round ${n} dead letters scraped`, 'sum(retention_dead_letters_total)', (v) => v >= 2 * n);
      await until(`round ${n} rejections scraped`, 'sum(retention_acks_rejected_total)', (v) => v >= n);
    }

    await round(1);
    await round(2);

    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const empty: string[] = [];
    for (const { panel, expr } of queries) {
      const series = await prometheus.query(expr);
      // A panel shows data when at least one series has a number (a histogram quantile of no observations is NaN: empty).
      if (!series.some((s) => Number.isFinite(s.value))) empty.push(`${panel}: ${expr} → ${JSON.stringify(series)}`);
    }
    expect(empty, 'panels without data').toEqual([]);

    // The counts are the real ones, not only "some series" (polled: a gauge may lag its collection interval).
    const panelSum = async (title: RegExp, labels: Record<string, string>, expected: number): Promise<void> => {
      const { expr } = queries.find((q) => title.test(q.panel))!;
      const sum = async (): Promise<number> =>
        (await prometheus.query(expr)).filter((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v)).reduce((n, s) => n + s.value, 0);
      await waitFor(`${expr} for ${JSON.stringify(labels)} to be ${expected}`, async () => ((await sum()) === expected ? true : undefined), {
        timeoutMs: 30_000,
      }).catch(async () => expect(await sum(), `${expr} ${JSON.stringify(labels)}`).toBe(expected));
    };
    await panelSum(/^Dead letters/, { service: 'sessions', consumer: 'sessions' }, 2);
    await panelSum(/^Dead letters/, { service: 'analytics', consumer: 'analytics' }, 2);
    await panelSum(/^Rejected acks/, { reason: 'unknown_request' }, 2);
    await panelSum(/^Records held/, { service: 'sessions', policy: 'erasure:sessions' }, heldRows);
    await panelSum(/^Requests by status/, { kind: 'erasure', status: 'held' }, 2);

    const fired = await activeAlert(
      'RetentionDeadLetters to fire for sessions',
      (a) => a.labels.alertname === 'RetentionDeadLetters' && a.labels.service === 'sessions',
    );
    expect(fired).toMatchObject({ state: 'firing', labels: { consumer: 'sessions', severity: 'warning' } });
    await activeAlert(
      'RetentionDeadLetters to fire for analytics',
      (a) => a.labels.alertname === 'RetentionDeadLetters' && a.labels.service === 'analytics' && a.state === 'firing',
    );

    for (const id of holds) expect((await platform.api('DELETE', `/v1/legal-holds/${id}`)).status).toBe(200);
  });

  it('a stopped service: its absence alert and its target-down alert go pending (for: 10m and 5m as written)', async () => {
    await platform.stopService('analytics');
    const missing = await activeAlert(
      'RetentionServiceMissing for analytics',
      (a) => a.labels.alertname === 'RetentionServiceMissing' && a.labels.target === 'analytics',
    );
    expect(missing).toMatchObject({ state: 'pending', labels: { severity: 'critical' } });
    const down = await activeAlert(
      'RetentionProcessDown for analytics',
      (a) => a.labels.alertname === 'RetentionProcessDown' && a.labels.process === 'analytics',
    );
    expect(down).toMatchObject({ state: 'pending', labels: { job: 'retention' } });
    // The running service is still scraped: the absence alert names analytics only.
    const missingTargets = async (): Promise<string[]> =>
      (await prometheus.alerts()).filter((a) => a.labels.alertname === 'RetentionServiceMissing').map((a) => a.labels.target!);
    await waitFor('RetentionServiceMissing to name analytics only', async () => ((await missingTargets()).join() === 'analytics' ? true : undefined), {
      timeoutMs: 15_000,
    }).catch(async () => expect(await missingTargets()).toEqual(['analytics']));
  });
});

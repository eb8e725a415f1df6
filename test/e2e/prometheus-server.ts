import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@retention/testing';
import { stringify } from 'yaml';

/** One series of an instant query: its labels and its value (a number; NaN and ±Inf as Prometheus writes them). */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** An alert as `GET /api/v1/alerts` reports it. */
export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

export interface PrometheusServer {
  url: string;
  /** The server's own output (printed when a test fails). */
  output: string[];
  /** An instant query at the current time through `/api/v1/query`. */
  query(expr: string): Promise<PromSample[]>;
  /** Active (pending or firing) alerts through `/api/v1/alerts`. */
  alerts(): Promise<PromAlert[]>;
  /** Targets through `/api/v1/targets`: scrape URL and health (`up`, `down`, `unknown`). */
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Each process to scrape, by the full URL of its metrics endpoint. */
  targets: Array<{ name: string; metricsUrl: string }>;
  /** Absolute paths of rule files (the real deploy/prometheus/alerts.yml). */
  ruleFiles: string[];
  /** Scrape and rule evaluation interval (default 1s). */
  intervalSeconds?: number;
  /** Job name of the targets (the alerts match `job=~".*retention.*"`). */
  job?: string;
}

/** The `prometheus` binary of Debian's package (scripts/lib.sh installs it for `npm test`). */
export function prometheusBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("the prometheus binary is missing: install Debian's prometheus package (scripts/lib.sh ensure_test_tools does for npm test)");
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts a real Prometheus server on 127.0.0.1 (a free port, a temporary data directory) scraping
 * `targets` with `ruleFiles` loaded; stopped by its PID.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = prometheusBinary();
  const dir = await mkdtemp(join(tmpdir(), 'retention-e2e-prometheus-'));
  const interval = `${options.intervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles,
    scrape_configs: [
      {
        job_name: options.job ?? 'retention',
        // One static group per process: each names its own metrics path (a process may serve
        // metrics on an ops port and path of its own).
        static_configs: options.targets.map((t) => {
          const url = new URL(t.metricsUrl);
          return { targets: [url.host], labels: { __metrics_path__: url.pathname, __scheme__: url.protocol.replace(':', ''), process: t.name } };
        }),
      },
    ],
  };
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(config));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  // Set by the exit event: a child killed by a signal keeps exitCode null, and its PID may be reused.
  let gone = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true;
      resolve();
    }),
  );

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };

  const server: PrometheusServer = {
    url,
    output,
    async query(expr) {
      const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType !== 'vector') throw new Error(`prometheus: ${expr} is a ${data.resultType}, not an instant vector`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async alerts() {
      return (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
    },
    async targets() {
      return (await api<{ activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> }>('/api/v1/targets')).activeTargets;
    },
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (!gone) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor(
      'prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${output.join('')}`);
        const ready = await fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
        return ready || undefined;
      },
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

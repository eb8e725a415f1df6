/**
 * The deployment artifacts, checked with what runs on this machine (no container engine, no
 * cluster): the Helm chart through a real `helm lint` and `helm template` (helm v3.22.0 from the Go
 * module proxy, kept in .local/bin), the rendered manifests (probes, resources, non-root, hooks,
 * disruption budgets) and each process's environment in them loaded through its own config schema;
 * the compose file parsed and every process's environment loaded the same way with the secrets
 * make-secrets.sh really makes; the Dockerfile's stages, user and healthcheck; the secret-file
 * errors and the healthcheck script run for real; and the image's start path run here on the
 * compiled dist/ (what the image holds): `retention topics apply` and `retention migrate` through
 * the entrypoint, then a service started as the chart starts it (RETENTION_CREATE_TOPICS=false,
 * DATABASE_MIGRATE=false, METRICS_PORT) with every secret from a file, against the real broker and
 * database, its healthcheck passing and SIGTERM stopping it within the chart's grace period.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaClientEnv, loadConfig } from '@retention/config';
import { createTestDatabase, testStack, uniqueTopicPrefix, waitFor } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { ServiceEnv } from '@retention/consumer';
import { generateSigningKeyPair, topicNames } from '@retention/contracts';
import { CoordinatorEnv } from '@retention/service-coordinator';
import { MigrateEnv, TopicsApplyEnv } from '@retention/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';

const ROOT = join(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'deploy/helm/retention');
const COMPOSE = join(ROOT, 'deploy/compose');
const DOCKER = join(ROOT, 'deploy/docker');
const HELM_VERSION = 'v3.22.0';
const HELM = join(ROOT, '.local/bin/helm');
const KUBE_VERSION = '1.30.0';
const SERVICES = ['orders', 'sessions', 'analytics', 'support', 'ml-data'];
const PROCESSES = ['coordinator', ...SERVICES];

type Doc = { kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: any };
type EnvVar = { name: string; value?: string; valueFrom?: unknown };
type Container = {
  name: string;
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  startupProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
};

const work = mkdtempSync(join(tmpdir(), 'deploy-artifacts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** helm from the Go module proxy, built once into .local/bin (a minute or two the first time). */
function ensureHelm(): string {
  if (existsSync(HELM)) return HELM;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error(`helm is not in ${HELM} and there is no Go toolchain to build it (go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION})`);
  const built = spawnSync('go', ['install', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
    encoding: 'utf8',
    env: { ...process.env, GOBIN: join(ROOT, '.local/bin') },
    timeout: 900_000,
  });
  if (built.status !== 0 || !existsSync(HELM)) {
    throw new Error(`go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} failed (status ${built.status}): ${built.stderr.slice(-2000)}`);
  }
  return HELM;
}

function helm(args: string[]): string {
  const result = spawnSync(ensureHelm(), args, { encoding: 'utf8', cwd: CHART });
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} failed: ${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function render(valuesFile: string, extra: string[] = []): Doc[] {
  const out = helm(['template', 'rel', '.', '--kube-version', KUBE_VERSION, '-f', valuesFile, ...extra]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

function schemaOf(process: string): z.ZodType {
  return process === 'coordinator' ? CoordinatorEnv : ServiceEnv;
}

/** Loads `env` through the process's schema as the process would (its `<KEY>_FILE` files read by loadConfig); returns the issues (none = it starts). */
function configIssues(process: string, env: Record<string, string>): string[] {
  try {
    loadConfig(schemaOf(process), env);
    return [];
  } catch (error) {
    const issues = (error as { issues?: Array<{ path: string; message: string }> }).issues;
    if (!issues) throw error;
    return issues.map((i) => `${i.path}: ${i.message}`);
  }
}

// Valid stand-ins for the contents of each Secret key the chart mounts.
const pair = generateSigningKeyPair();
const servicePair = generateSigningKeyPair();
const secretContents: Record<string, string> = {
  'database-url': 'postgres://app:secret@db.example:5432/app\n',
  'migrations-url': 'postgres://owner:secret@db.example:5432/app\n',
  'signing.key': `${pair.privateKey}\n`,
  'api-tokens': 'admin:0123456789abcdef0123,auditor:abcdef0123456789abcd\n',
  'subject-hmac-key': 'hmac-key-0123456789abcdef\n',
  'command-kek': `${'A'.repeat(43)}\n`,
  'hash-key': 'hash-key-0123456789abcdef\n',
  'service-public-keys': `orders:orders-1=${servicePair.publicKey}\n`,
  'kafka-sasl-password': 'kafka-password\n',
  'kafka-client.crt': '-----BEGIN CERTIFICATE-----\n',
  'kafka-client.key': '-----BEGIN PRIVATE KEY-----\n',
  'ca.crt': '-----BEGIN CERTIFICATE-----\n',
};
const secretsDir = join(work, 'k8s-secrets');
mkdirSync(secretsDir);
for (const [key, content] of Object.entries(secretContents)) writeFileSync(join(secretsDir, key), content);

/** A rendered container's environment, with mounted secret paths pointing at the stand-in files. */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    if (v.valueFrom) {
      env[v.name] = 'rel-retention-pod-7d9f8-abcde'; // a pod name (fieldRef metadata.name)
      continue;
    }
    const value = v.value ?? '';
    const secret = /^\/run\/secrets\/(?:retention|kafka-ca)\/(.+)$/.exec(value);
    if (secret?.[1]) {
      expect(secretContents, `${container.name}: ${v.name} names Secret key ${secret[1]}, which the chart documents nowhere`).toHaveProperty([secret[1]]);
      env[v.name] = join(secretsDir, secret[1]);
    } else env[v.name] = value;
  }
  return env;
}

const podSpecs = (docs: Doc[]) =>
  docs
    .filter((d) => d.kind === 'Deployment' || d.kind === 'Job')
    .map((d) => ({
      doc: d,
      pod: d.spec.template.spec as { securityContext?: Record<string, unknown>; containers: Container[]; volumes?: Array<{ name: string }> },
    }));

describe('Helm chart deploy/helm/retention', () => {
  const valuesFiles = ['ci/default-values.yaml', 'ci/secured-values.yaml'];
  let rendered: Record<string, Doc[]>;

  beforeAll(() => {
    rendered = Object.fromEntries(valuesFiles.map((f) => [f, render(f)]));
  }, 900_000);

  it(`helm ${HELM_VERSION} lints it (strict) with each values file, and the values schema refuses bad values`, () => {
    expect(helm(['version', '--template', '{{.Version}}'])).toMatch(/^v3\.22/);
    for (const f of valuesFiles) expect(helm(['lint', '.', '--strict', '--kube-version', KUBE_VERSION, '-f', f])).toContain('0 chart(s) failed');
    const refused = (args: string[]): string => {
      const result = spawnSync(HELM, ['template', 'rel', '.', '--kube-version', KUBE_VERSION, ...args], { encoding: 'utf8', cwd: CHART });
      expect(result.status, args.join(' ')).not.toBe(0);
      return result.stderr;
    };
    expect(refused([])).toMatch(/coordinatorPublicKeys/); // no default: the services could trust nothing
    expect(refused(['-f', valuesFiles[0]!, '--set', 'kafka.sasl.mechanism=plain'])).toMatch(/kafka\/ssl\/enabled/);
    expect(refused(['-f', valuesFiles[0]!, '--set', 'securityContext.allowPrivilegeEscalation=true'])).toMatch(/allowPrivilegeEscalation/);
    expect(refused(['-f', valuesFiles[0]!, '--set', 'services.orders.replica=3'])).toMatch(/replica/);
    expect(refused(['-f', valuesFiles[0]!, '--set', 'kafka.topics.partitions=0'])).toMatch(/partitions/);
    expect(refused(['-f', valuesFiles[0]!, '--set', 'kafka.topics.replicationFactor=0'])).toMatch(/replicationFactor/);
  });

  it('every container has probes on /healthz and /readyz of a declared port, resources, and runs non-root without privilege escalation on a read-only root', () => {
    for (const [file, docs] of Object.entries(rendered)) {
      const pods = podSpecs(docs);
      expect(pods.length).toBeGreaterThan(0);
      for (const { doc, pod } of pods) {
        const where = `${file} ${doc.kind}/${doc.metadata.name}`;
        expect(pod.securityContext?.runAsNonRoot, where).toBe(true);
        expect(pod.securityContext?.runAsUser, where).toBeGreaterThan(0);
        for (const c of pod.containers) {
          expect(c.securityContext, where).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
          expect(c.securityContext?.capabilities?.drop, where).toContain('ALL');
          expect(c.resources?.requests?.memory, where).toBeTruthy();
          expect(c.resources?.requests?.cpu, where).toBeTruthy();
          expect(c.resources?.limits?.memory, where).toBeTruthy();
          // Read-only root: /tmp is a volume.
          expect(
            c.volumeMounts?.some((m) => m.mountPath === '/tmp'),
            where,
          ).toBe(true);
          if (doc.kind !== 'Deployment') continue;
          const ports = new Set((c.ports ?? []).map((p) => p.name));
          expect(c.startupProbe?.httpGet?.path, where).toBe('/healthz');
          expect(c.livenessProbe?.httpGet?.path, where).toBe('/healthz');
          expect(c.readinessProbe?.httpGet?.path, where).toBe('/readyz');
          for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) expect(ports.has(probe!.httpGet!.port), where).toBe(true);
        }
      }
    }
  });

  it('runs the coordinator as 2 replicas and each enabled service as a Deployment, each with a disruption budget and a Service the ServiceMonitor scrapes', () => {
    for (const [file, docs] of Object.entries(rendered)) {
      const deployments = docs.filter((d) => d.kind === 'Deployment');
      const processes = deployments.map((d) => (d.spec.template.spec.containers[0] as Container).args?.[0]).sort();
      const expected = file.includes('secured') ? PROCESSES.filter((p) => p !== 'support') : PROCESSES;
      expect(processes, file).toEqual([...expected].sort());
      const coordinator = deployments.find((d) => d.metadata.name.endsWith('-coordinator'))!;
      expect(coordinator.spec.replicas).toBe(2);
      expect(coordinator.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
      if (file.includes('secured')) expect(deployments.find((d) => d.metadata.name.endsWith('-orders'))!.spec.replicas).toBe(6);

      const pdbs = docs.filter((d) => d.kind === 'PodDisruptionBudget');
      const monitor = docs.find((d) => d.kind === 'ServiceMonitor')!;
      const scraped = new Set((monitor.spec.endpoints as Array<{ port: string; path: string }>).map((e) => e.port));
      // Only the metrics port (METRICS_PORT) is scraped: the API and ops ports serve no /metrics.
      expect([...scraped], file).toEqual(['metrics']);
      for (const d of deployments) {
        const labels = d.spec.selector.matchLabels as Record<string, string>;
        expect(
          pdbs.some((p) => JSON.stringify(p.spec.selector.matchLabels) === JSON.stringify(labels)),
          `${file}: no PodDisruptionBudget for ${d.metadata.name}`,
        ).toBe(true);
        const service = docs.find((s) => s.kind === 'Service' && JSON.stringify(s.spec.selector) === JSON.stringify(labels));
        expect(service, `${file}: no Service for ${d.metadata.name}`).toBeDefined();
        const portNames = (service!.spec.ports as Array<{ name: string }>).map((p) => p.name);
        expect(
          portNames.some((p) => scraped.has(p)),
          `${file}: ${d.metadata.name}'s port is not scraped`,
        ).toBe(true);
        for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels as Record<string, string>)) expect(service!.metadata.labels?.[k]).toBe(v);
      }
    }
  });

  it('provides every variable each process requires, as its own config schema loads it (and the check fails when one is missing)', () => {
    for (const [file, docs] of Object.entries(rendered)) {
      for (const d of docs.filter((x) => x.kind === 'Deployment')) {
        const container = d.spec.template.spec.containers[0] as Container;
        const process = container.args![0]!;
        const env = containerEnv(container);
        expect(configIssues(process, env), `${file}: ${process}`).toEqual([]);
        // The check can fail: without its database or signing key the process would not start.
        const { DATABASE_URL_FILE: _db, ...noDatabase } = env;
        expect(configIssues(process, noDatabase), `${file}: ${process}`).toContain('DATABASE_URL: is required');
        const { RETENTION_SIGNING_KEY_FILE: _key, ...noKey } = env;
        expect(configIssues(process, noKey).join(' '), `${file}: ${process}`).toMatch(/RETENTION_SIGNING_KEY/);
        // The ops port is the one the probes use, and listens beyond loopback; /metrics has a port of its own.
        expect(env.HTTP_HOST).toBe('0.0.0.0');
        expect(Number(env.HTTP_PORT)).toBe(container.ports![0]!.containerPort);
        expect(env.METRICS_HOST).toBe('0.0.0.0');
        expect(Number(env.METRICS_PORT)).toBe(container.ports!.find((p) => p.name === 'metrics')!.containerPort);
        // The hook Jobs made the topics and ran the DDL: the process may do neither, and checks both.
        const config = loadConfig(schemaOf(process), env) as { RETENTION_CREATE_TOPICS: boolean; DATABASE_MIGRATE: boolean; METRICS_PORT?: number };
        expect(config).toMatchObject({ RETENTION_CREATE_TOPICS: false, DATABASE_MIGRATE: false, METRICS_PORT: 9090 });
        // Secrets are files the process reads (X_FILE), never values in the manifest.
        for (const v of container.env ?? [])
          if (/URL|KEY$|TOKENS|KEK|PASSWORD/.test(v.name)) expect(v.name, `${file}: ${process}`).toMatch(/_FILE$|_ID$|PUBLIC_KEYS$/);
        // The coordinator runs as its runtime role only: the owner role's URL is the migrate Job's.
        if (process === 'coordinator') expect(env.DATABASE_MIGRATIONS_URL_FILE).toBeUndefined();
      }
      if (file.includes('secured')) {
        const orders = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-orders'))!;
        const env = containerEnv(orders.spec.template.spec.containers[0] as Container);
        const config = loadConfig(ServiceEnv, env);
        expect(config).toMatchObject({
          KAFKA_SSL: true,
          KAFKA_SASL_MECHANISM: 'scram-sha-512',
          KAFKA_SASL_USERNAME: 'orders',
          RETENTION_TOPIC_PREFIX: 'prod.',
        });
        expect(config).toMatchObject({ RETENTION_CONCURRENCY: 2, RETENTION_MAX_CLOCK_SKEW_SECONDS: 120 });
        expect(config.RETENTION_COORDINATOR_PUBLIC_KEYS.map((k) => k.keyId)).toEqual(['coordinator-2', 'coordinator-1']);
      }
    }
  });

  it('runs the topics job, then every migration, as pre-install/pre-upgrade hook Jobs with the environment each needs', () => {
    for (const [file, docs] of Object.entries(rendered)) {
      const jobs = docs.filter((d) => d.kind === 'Job');
      const enabled = file.includes('secured') ? SERVICES.filter((s) => s !== 'support') : SERVICES;
      const args = jobs.map((j) => (j.spec.template.spec.containers[0] as Container).args!.join(' ')).sort();
      expect(args, file).toEqual(['retention topics apply', 'retention migrate coordinator', ...enabled.map((s) => `retention migrate ${s}`)].sort());
      for (const job of jobs) {
        const annotations = job.metadata.annotations ?? {};
        expect(annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
        expect(annotations['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
        const container = job.spec.template.spec.containers[0] as Container;
        const env = containerEnv(container);
        if (container.args![1] === 'topics') {
          expect(Number(annotations['helm.sh/hook-weight'])).toBeLessThan(0);
          const kafka = loadConfig(KafkaClientEnv, env);
          // Loaded as `retention topics apply` loads it: partitions and replication from the values.
          const topics = loadConfig(TopicsApplyEnv, env);
          expect([topics.RETENTION_TOPIC_PARTITIONS, topics.RETENTION_TOPIC_REPLICATION_FACTOR]).toEqual(file.includes('secured') ? [12, 3] : [6, -1]);
          expect(env.SETUP_SERVICES!.split(',').sort()).toEqual([...enabled].sort());
          if (file.includes('secured')) {
            expect(kafka).toMatchObject({ KAFKA_SSL: true, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'admin' });
            expect(env.SETUP_ACLS).toBe('true');
          }
        } else {
          expect(Number(annotations['helm.sh/hook-weight'])).toBe(0);
          const migrate = loadConfig(MigrateEnv, env);
          expect(migrate.DATABASE_URL).toMatch(/^postgres:\/\//);
          if (container.args![2] === 'coordinator') expect(migrate.DATABASE_MIGRATIONS_URL).toMatch(/^postgres:\/\//);
        }
      }
    }
  });

  it('ships deploy/prometheus/alerts.yml as the PrometheusRule and the dashboard as a ConfigMap, unchanged', () => {
    // The chart's files/ are links to the sources (helm package stores their contents).
    expect(realpathSync(join(CHART, 'files/alerts.yml'))).toBe(realpathSync(join(ROOT, 'deploy/prometheus/alerts.yml')));
    expect(realpathSync(join(CHART, 'files/retention.json'))).toBe(realpathSync(join(ROOT, 'deploy/grafana/retention.json')));
    const alerts = readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8');
    const dashboard = readFileSync(join(ROOT, 'deploy/grafana/retention.json'), 'utf8');
    const docs = rendered[valuesFiles[0]!]!;
    expect(docs.find((d) => d.kind === 'PrometheusRule')!.spec).toEqual(parse(alerts));
    const configMap = docs.find((d) => d.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(JSON.parse(configMap.data['retention.json']!)).toEqual(JSON.parse(dashboard));
  });
});

describe('compose file deploy/compose/compose.yaml', () => {
  const compose = parse(readFileSync(join(COMPOSE, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        command?: string[];
        environment?: Record<string, string>;
        secrets?: string[];
        volumes?: Array<string | { source: string }>;
        depends_on?: Record<string, { condition: string }>;
        read_only?: boolean;
        user?: string;
      }
    >;
    secrets: Record<string, { file: string }>;
  };
  const secrets = join(work, 'compose-secrets');

  beforeAll(() => {
    // The secrets the stack would get: made by the same script, into a temporary directory.
    execFileSync('bash', [join(COMPOSE, 'make-secrets.sh')], { env: { ...process.env, RETENTION_SECRETS_DIR: secrets }, stdio: 'pipe' });
  }, 60_000);

  /** A compose service's environment with /run/secrets/<name> pointing at the made file, after checking it mounts that secret. */
  function serviceEnv(name: string): Record<string, string> {
    const service = compose.services[name]!;
    const env: Record<string, string> = {};
    for (const [key, raw] of Object.entries(service.environment ?? {})) {
      const value = String(raw);
      const secret = /^\/run\/secrets\/(.+)$/.exec(value);
      if (secret?.[1]) {
        expect(service.secrets, `${name}: ${key} reads secret ${secret[1]}, not mounted`).toContain(secret[1]);
        expect(compose.secrets[secret[1]]?.file).toBe(`./secrets/${secret[1]}`);
        expect(existsSync(join(secrets, secret[1])), `make-secrets.sh makes no ${secret[1]}`).toBe(true);
        env[key] = join(secrets, secret[1]);
      } else env[key] = value;
    }
    return env;
  }

  it('has a 3-broker KRaft cluster that replicates every topic 3 times with min.insync.replicas 2', () => {
    const brokers = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('apache/kafka:'));
    expect(brokers.map(([n]) => n)).toEqual(['kafka-1', 'kafka-2', 'kafka-3']);
    for (const [, broker] of brokers) {
      expect(broker.environment).toMatchObject({
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093',
        KAFKA_DEFAULT_REPLICATION_FACTOR: '3',
        KAFKA_MIN_INSYNC_REPLICAS: '2',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '3',
      });
    }
    expect(new Set(brokers.map(([, b]) => b.environment!.KAFKA_NODE_ID)).size).toBe(3);
    // One cluster id, a UUID as kafka-storage makes it: base64url of 16 bytes (22 characters).
    const ids = new Set(brokers.map(([, b]) => b.environment!.CLUSTER_ID));
    expect(ids.size).toBe(1);
    expect(Buffer.from([...ids][0]!, 'base64url')).toHaveLength(16);
    expect([...ids][0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("loads every process's environment through its config schema, with the secrets make-secrets.sh makes", () => {
    for (const process of PROCESSES) {
      const service = compose.services[process]!;
      expect(service.command).toEqual([process]);
      expect(service.read_only, process).toBe(true);
      const env = serviceEnv(process);
      expect(configIssues(process, env), process).toEqual([]);
      const config = loadConfig(schemaOf(process), env) as {
        KAFKA_BROKERS: string[];
        HTTP_HOST: string;
        RETENTION_CREATE_TOPICS: boolean;
        DATABASE_MIGRATE: boolean;
        METRICS_HOST: string;
        METRICS_PORT?: number;
      };
      expect(config.KAFKA_BROKERS).toEqual(['kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092']);
      expect(config.HTTP_HOST).toBe('0.0.0.0');
      // topics and migrate-* did the DDL and the topics; /metrics on a port of its own.
      expect(config).toMatchObject({ RETENTION_CREATE_TOPICS: false, DATABASE_MIGRATE: false, METRICS_HOST: '0.0.0.0', METRICS_PORT: 9090 });
      if (process === 'coordinator') expect(env.DATABASE_MIGRATIONS_URL_FILE).toBeUndefined();
      // It starts after the topics and its migrations.
      const after = Object.entries(service.depends_on ?? {}).filter(([, d]) => d.condition === 'service_completed_successfully');
      expect(after.map(([n]) => n).sort(), process).toEqual(['topics', `migrate-${process}`].sort());
      const migrate = compose.services[`migrate-${process}`]!;
      expect(migrate.command).toEqual(['retention', 'migrate', process]);
      expect(loadConfig(MigrateEnv, serviceEnv(`migrate-${process}`)).DATABASE_URL).toMatch(/^postgres:\/\/[a-z_]+:[^@]+@postgres:5432\/[a-z_]+$/);
    }
    // The services trust exactly the coordinator's key, and the coordinator each service's.
    const coordinatorKey = readFileSync(join(secrets, 'coordinator-public-keys'), 'utf8');
    const trusted = loadConfig(CoordinatorEnv, serviceEnv('coordinator')).RETENTION_SERVICE_PUBLIC_KEYS!;
    expect(trusted.map((k) => k.owner).sort()).toEqual([...SERVICES].sort());
    expect(coordinatorKey).toMatch(/^coordinator-1=[A-Za-z0-9_-]{43}$/);
    // The topics: `retention topics apply`, with the cluster's partitions and replication.
    expect(compose.services.topics!.command).toEqual(['retention', 'topics', 'apply']);
    const topics = loadConfig(TopicsApplyEnv, serviceEnv('topics'));
    expect([topics.RETENTION_TOPIC_PARTITIONS, topics.RETENTION_TOPIC_REPLICATION_FACTOR]).toEqual([6, 3]);
    expect(topics.SETUP_SERVICES?.sort()).toEqual([...SERVICES].sort());
  });

  it('scrapes every process at its ops port with the alert rules, and provisions the dashboard', () => {
    const prometheus = parse(readFileSync(join(COMPOSE, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets.sort()).toEqual(PROCESSES.map((p) => `${p}:${serviceEnv(p).METRICS_PORT}`).sort());
    expect(compose.services.prometheus!.volumes).toContain('../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
    expect(compose.services.grafana!.volumes).toContain('../grafana/retention.json:/var/lib/grafana/dashboards/retention.json:ro');
    for (const volume of [...compose.services.prometheus!.volumes!, ...compose.services.grafana!.volumes!]) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source;
      if (source.startsWith('.')) expect(existsSync(join(COMPOSE, source)), source).toBe(true);
    }
  });
});

describe('image deploy/docker', () => {
  const dockerfile = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('builds in stages and runs as a non-root user with a healthcheck on /healthz', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(stages[0]).toMatch(/^RUN npm ci\b/m);
    expect(stages[0]).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    const user = /^USER (\S+)/m.exec(final)?.[1];
    expect(user, 'the final stage sets USER').toBeDefined();
    expect(user!.split(':')[0]).toMatch(/^[1-9]\d*$/); // numeric, not root: Kubernetes can verify runAsNonRoot
    // No source, compiler or dev dependency in the final stage: only what the deps and build stages produced.
    for (const copy of final.match(/^COPY .*$/gm) ?? []) expect(copy).toMatch(/--from=|deploy\/docker\//);
    expect(final).toMatch(/^HEALTHCHECK .*healthcheck\.mjs/m);
    expect(final).toMatch(/^ENTRYPOINT \["\/app\/deploy\/docker\/entrypoint\.sh"\]/m);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    for (const entry of ['**/node_modules', '.local', 'deploy/compose/secrets', '.env']) expect(ignore).toContain(entry);
  });

  it('has an entrypoint for every process, each a compiled main.js', () => {
    const script = readFileSync(join(DOCKER, 'entrypoint.sh'), 'utf8');
    expect(spawnSync('sh', ['-n', join(DOCKER, 'entrypoint.sh')]).status).toBe(0);
    for (const p of PROCESSES) {
      expect(script).toMatch(new RegExp(`\\b${p}\\b[^\\n]*\\)`));
      expect((JSON.parse(readFileSync(join(ROOT, 'services', p, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start).toBe(
        'node dist/main.js',
      );
    }
    const run = (env: Record<string, string>, args: string[]) =>
      spawnSync('sh', [join(DOCKER, 'entrypoint.sh'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, ...env } });
    const unknown = run({}, ['nope']);
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toContain("unknown process 'nope'");
    // Secret files are read by the processes themselves (loadConfig's X_FILE rule): the entrypoint
    // holds no list of them; both forms at once, or a file it cannot read, is named by the process.
    expect(script).not.toMatch(/FILE_BACKED_KEYS|eval /);
    const env = { DATABASE_URL_FILE: join(secretsDir, 'database-url'), RETENTION_HASH_KEY_FILE: join(secretsDir, 'hash-key') };
    expect(configIssues('orders', { ...env, DATABASE_URL: 'postgres://x' })).toContain('DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both');
    const missing = configIssues('orders', { ...env, RETENTION_HASH_KEY_FILE: join(work, 'absent') });
    expect(missing).toContain(`RETENTION_HASH_KEY_FILE: cannot read ${join(work, 'absent')} (ENOENT)`);
    expect(missing.join(' ')).not.toContain('hash-key-0123');
  });

  it('healthcheck.mjs exits 0 only when /healthz of HTTP_PORT answers 200', async () => {
    let status = 200;
    const server: Server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as AddressInfo).port);
    const check = () =>
      new Promise<number | null>((resolve) => {
        // Async spawn: the server above answers on this event loop.
        import('node:child_process').then(
          ({ spawn }) => spawn(process.execPath, [join(DOCKER, 'healthcheck.mjs')], { env: { HTTP_PORT: port } }).on('exit', resolve),
          () => resolve(null),
        );
      });
    try {
      expect(await check()).toBe(0);
      status = 503;
      expect(await check()).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await check()).toBe(1); // nothing listening
  });
});

describe("the image's start path, run here on the compiled dist/ (no container engine)", () => {
  const stack = testStack();
  const prefix = uniqueTopicPrefix();
  const dir = join(work, 'run');
  let database: { url: string; drop(): Promise<void> };
  const admin = new Kafka({ brokers: stack.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();

  beforeAll(async () => {
    for (const main of ['services/orders/dist/main.js', 'libs/observability/dist/instrument.js', 'services/cli/dist/bin.js']) {
      expect(existsSync(join(ROOT, main)), `${main} is missing: run npm run build (npm test does)`).toBe(true);
    }
    mkdirSync(dir);
    database = await createTestDatabase(stack.databaseUrl, 'deploy_artifacts');
    const coordinator = generateSigningKeyPair();
    const files: Record<string, string> = {
      'database-url': `${database.url}\n`,
      'signing.key': `${pair.privateKey}\n`,
      'coordinator-public-keys': `coordinator-1=${coordinator.publicKey}\n`,
      'command-kek': `${'B'.repeat(43)}\n`,
      'hash-key': 'hash-key-0123456789abcdef\n',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    await admin.connect();
  }, 60_000);

  afterAll(async () => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.disconnect();
    await database?.drop();
  });

  const baseEnv = (): Record<string, string> => ({
    PATH: process.env.PATH!,
    RETENTION_APP_DIR: ROOT,
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    RETENTION_TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'warn',
  });
  const entrypoint = (args: string[], env: Record<string, string>) =>
    spawnSync('sh', [join(DOCKER, 'entrypoint.sh'), ...args], { encoding: 'utf8', env: { ...baseEnv(), ...env }, timeout: 120_000 });

  it('`retention topics apply` creates every topic with the partitions asked, and `retention migrate` migrates the database from DATABASE_URL_FILE', async () => {
    const topics = entrypoint(['retention', 'topics', 'apply'], { SETUP_SERVICES: 'orders', RETENTION_TOPIC_PARTITIONS: '2' });
    expect(topics.status, topics.stderr).toBe(0);
    const created = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    expect(created.sort()).toEqual(Object.values(topicNames(prefix)).sort());
    expect((JSON.parse(topics.stdout) as { topics: Record<string, number> }).topics[topicNames(prefix).commands]).toBe(2);
    // The name earlier images gave the job still works (nothing left to create).
    const again = entrypoint(['topics'], {});
    expect(again.status, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { created: string[] }).created).toEqual([]);

    const migrate = entrypoint(['retention', 'migrate', 'orders'], { DATABASE_URL_FILE: join(dir, 'database-url') });
    expect(migrate.status, migrate.stderr).toBe(0);
    expect((JSON.parse(migrate.stdout) as { applied: string[] }).applied).toContain('CreateOrders1763800004000');
    expect(entrypoint(['migrate', 'orders'], { DATABASE_URL_FILE: join(dir, 'database-url') }).stdout).toContain('"applied": []');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM typeorm_migrations');
      expect(Number(rows[0]!.n)).toBeGreaterThan(3);
    } finally {
      await client.end();
    }
  }, 180_000);

  it('a service starts as the chart starts it (no topic creation, no DDL, a metrics port) with every secret from a file that never enters its environment, passes the healthcheck, and stops on SIGTERM within the grace period', async () => {
    const freePort = () =>
      new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const p = (probe.address() as AddressInfo).port;
          probe.close(() => resolve(p));
        });
      });
    const port = await freePort();
    const metricsPort = await freePort();
    const { spawn } = await import('node:child_process');
    const child = spawn('sh', [join(DOCKER, 'entrypoint.sh'), 'orders'], {
      env: {
        ...baseEnv(),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
        RETENTION_CREATE_TOPICS: 'false',
        DATABASE_MIGRATE: 'false',
        INSTANCE_ID: 'deploy-artifacts-1',
        DATABASE_URL_FILE: join(dir, 'database-url'),
        RETENTION_SIGNING_KEY_FILE: join(dir, 'signing.key'),
        RETENTION_SIGNING_KEY_ID: 'orders-1',
        RETENTION_COORDINATOR_PUBLIC_KEYS_FILE: join(dir, 'coordinator-public-keys'),
        RETENTION_COMMAND_KEK_FILE: join(dir, 'command-kek'),
        RETENTION_HASH_KEY_FILE: join(dir, 'hash-key'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    try {
      await waitFor(
        'orders started through the entrypoint answers /readyz 200',
        async () => {
          if (child.exitCode !== null) throw new Error(`orders exited (${child.exitCode}): ${stderr.slice(-2000)}`);
          const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return response?.status === 200 ? true : undefined;
        },
        { timeoutMs: 90_000 },
      );
      const health = spawnSync(process.execPath, [join(DOCKER, 'healthcheck.mjs')], { env: { HTTP_PORT: String(port) } });
      expect(health.status).toBe(0);
      // /metrics on the metrics port only.
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      // sh exec'd node: the child's pid is the service's. It read its secrets from the files itself:
      // only their paths are in its environment.
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      const names = environ.map((e) => e.slice(0, e.indexOf('=')));
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).toContain('services/orders/dist/main.js');
      for (const key of ['DATABASE_URL', 'RETENTION_COMMAND_KEK', 'RETENTION_HASH_KEY', 'RETENTION_COORDINATOR_PUBLIC_KEYS']) {
        expect(names).toContain(`${key}_FILE`);
        expect(names).not.toContain(key);
      }
      expect(environ.join('\n')).not.toContain('hash-key-0123456789abcdef');
      expect(names).toContain('RETENTION_SIGNING_KEY_FILE'); // read by the process itself
      const stopping = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(40_000); // terminationGracePeriodSeconds of the chart
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});

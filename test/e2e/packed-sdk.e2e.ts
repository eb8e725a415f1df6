import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase, testStack, waitFor } from '@retention/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const execFileAsync = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The SDK's packages and what they need at run time: what a service outside this repository installs. */
const PUBLISHED = ['contracts', 'config', 'observability', 'kafka', 'database', 'outbox', 'policy', 'consumer'];

/**
 * Environment of the tools run in the throwaway project: nothing of this workspace leaks in (no
 * `@retention/source` condition, which names sources the tarballs do not have; no npm_* settings
 * of an `npm test` that started us).
 */
function outsideEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD'));
  return { ...env, ...extra };
}

async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

interface PackResult {
  name: string;
  version: string;
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

/**
 * The SDK as a user gets it: `npm run build`, `npm pack` of each published package, the tarballs
 * installed into a project in a temporary directory (no workspace above it), compiled by tsc and
 * run by plain `node`, next to a coordinator started here. Erasing a subject through the
 * coordinator's API reaches the service's database.
 */
describe('the SDK packed and installed outside the workspace', () => {
  let work: string;
  let project: string;
  let packs: PackResult[];
  let platform: Platform;
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let output = '';
  const timings: Record<string, number> = {};

  const timed = async <T>(label: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await step();
    timings[label] = Date.now() - started;
    return result;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'retention-packed-sdk-'));
    // npm must not find a workspace root above the project: no package.json in any parent.
    for (let dir = work; dir !== parse(dir).root; dir = dirname(dir)) {
      expect(existsSync(join(dirname(dir), 'package.json')), `package.json above ${work}`).toBe(false);
    }

    // What `npm pack` runs first (each package's prepack): the packages and those they reference.
    await timed('build', async () => {
      await run(
        process.execPath,
        [resolve(root, 'node_modules/typescript/bin/tsc'), '-b', ...PUBLISHED.map((p) => `libs/${p}/tsconfig.build.json`)],
        root,
        process.env,
      );
      await run(process.execPath, [resolve(root, 'scripts/esm-specifiers.mjs'), ...PUBLISHED.map((p) => resolve(root, `libs/${p}/dist`))], root, process.env);
    });
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    const packed = await timed('pack', () =>
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tarballs, ...PUBLISHED.flatMap((p) => ['-w', `libs/${p}`])], root, process.env),
    );
    packs = JSON.parse(packed) as PackResult[];

    // The guide's example, as a user copies it: its package.json names the published packages.
    project = join(work, 'newsletter');
    cpSync(resolve(root, 'docs/examples/newsletter'), project, { recursive: true, filter: (src) => !/\/(node_modules|dist)(\/|$)/.test(src) });
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const [name, version] of Object.entries(manifest.dependencies).filter(([n]) => n.startsWith('@retention/'))) {
      expect(packs.find((p) => p.name === name)?.version, `${name}@${version} is a published package`).toBe(version);
    }
    // No registry has them: every SDK package from its tarball (what `npm install` would fetch).
    for (const p of packs) manifest.dependencies[p.name] = `file:${join(tarballs, p.filename)}`;
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));

    // Third-party dependencies from the npm cache `npm ci` filled.
    await timed('install', () => run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], project, outsideEnv()));
    await timed('tsc', () => run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project, outsideEnv()));

    platform = await startPlatform([], { trustedServices: ['newsletter'] });
    db = await createTestDatabase(testStack().databaseUrl, 'e2e_packed_newsletter');
  });

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) child.kill('SIGKILL');
    await platform?.stop();
    await db?.drop().catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs only what a user needs, with declarations and ESM JavaScript', () => {
    expect(packs.map((p) => p.name).sort()).toEqual(PUBLISHED.map((p) => `@retention/${p}`).sort());
    for (const p of packs) {
      const paths = p.files.map((f) => f.path);
      expect(paths, p.name).toEqual(expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts']));
      expect(
        paths.filter((f) => !/^dist\/.+\.(js|d\.ts)$/.test(f) && !['package.json', 'README.md', 'CHANGELOG.md', 'asyncapi.json'].includes(f)),
        p.name,
      ).toEqual([]);
      expect(
        paths.filter((f) => /\.spec\.|^src\//.test(f)),
        p.name,
      ).toEqual([]);
    }
    // Sizes and step times, for the README's figures (bench-results/ is git-ignored).
    mkdirSync(resolve(root, 'bench-results'), { recursive: true });
    const figures = { packs: packs.map(({ name, size, unpackedSize, files }) => ({ name, size, unpackedSize, files: files.length })), stepsMs: timings };
    writeFileSync(resolve(root, 'bench-results/packed-sdk.json'), `${JSON.stringify(figures, null, 2)}\n`);
  });

  it('runs the compiled service with plain node, and an erasure through the coordinator reaches its database', async () => {
    expect(existsSync(join(project, 'dist/main.js'))).toBe(true);
    child = spawn(process.execPath, ['dist/main.js'], {
      cwd: project,
      env: outsideEnv({
        KAFKA_BROKERS: testStack().kafkaBrokers.join(','),
        RETENTION_TOPIC_PREFIX: platform.prefix,
        DATABASE_URL: db.url,
        RETENTION_HASH_KEY: 'test-hash-key-0123456789',
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        ...platform.keys.serviceEnv('newsletter'),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));

    // Its manifest, signed with a key the coordinator trusts, registers it.
    await waitFor(
      'the packed newsletter service to register',
      async () => {
        if (child!.exitCode !== null) throw new Error(`the service exited with ${child!.exitCode}:\n${output}`);
        const { body } = await platform.api('GET', '/v1/services/newsletter');
        return body?.status === 'active' ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO subscribers (user_id, email, subscribed_at, unsubscribed_at) VALUES
        ('ann', 'ann@example.com', now() - interval '400 days', NULL),
        ('dan', 'dan@example.com', now() - interval '400 days', NULL)`);

      const erasure = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ann' } } });
      expect(erasure.body.id, JSON.stringify(erasure.body)).toEqual(expect.any(String));
      expect(await platform.waitForRequest(erasure.body.id)).toMatchObject({
        status: 'completed',
        targets: [{ service: 'newsletter', tables: [expect.objectContaining({ deleted: 1 })] }],
      });
      expect((await client.query('SELECT user_id FROM subscribers ORDER BY user_id')).rows).toEqual([{ user_id: 'dan' }]);
    } finally {
      await client.end();
    }

    // SIGTERM: a graceful stop, exit code 0.
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main';

// Usage and configuration errors: what the setup commands say before they reach Kafka or
// PostgreSQL (their work against the real ones: test/e2e/cluster-operations.e2e.ts).
const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'retention', ...argv], { out: (t) => out.push(t), err: (t) => err.push(t), env, sleep: async () => {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
};
const dir = mkdtempSync(join(tmpdir(), 'cli-operations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('retention topics apply / migrate', () => {
  it('--help names every variable they read', async () => {
    const topics = await run(['topics', 'apply', '--help']);
    expect(topics.code).toBe(0);
    for (const name of ['KAFKA_BROKERS', 'RETENTION_TOPIC_PARTITIONS', 'RETENTION_TOPIC_REPLICATION_FACTOR', 'SETUP_SERVICES', '--acls', 'X_FILE'])
      expect(topics.out).toContain(name);
    const migrate = await run(['migrate', '--help']);
    expect(migrate.code).toBe(0);
    for (const name of ['<target>', 'DATABASE_URL', 'DATABASE_MIGRATIONS_URL', 'DATABASE_AUTO_CREATE', 'DATABASE_MIGRATE=false'])
      expect(migrate.out).toContain(name);
  });

  it('refuse bad usage with exit 2, naming what is wrong', async () => {
    expect(await run(['migrate', '../etc'])).toMatchObject({ code: 2, err: expect.stringContaining('"../etc" is not coordinator or a service name') });
    expect(await run(['migrate', 'no-such-service'], { DATABASE_URL: 'postgres://u@127.0.0.1:1/x' })).toMatchObject({
      code: 2,
      err: expect.stringContaining('no package @retention/service-no-such-service'),
    });
    expect(await run(['topics', 'apply', '--acls'], { KAFKA_BROKERS: '127.0.0.1:1' })).toMatchObject({
      code: 2,
      err: expect.stringContaining('--services (or SETUP_SERVICES)'),
    });
    expect((await run(['migrate'])).code).toBe(2);
  });

  it('name every invalid variable with exit 1, a secret file by its variable and never its contents', async () => {
    const topics = await run(['topics', 'apply'], { KAFKA_BROKERS: 'nohost', RETENTION_TOPIC_PARTITIONS: '0', RETENTION_TOPIC_REPLICATION_FACTOR: '0' });
    expect(topics.code).toBe(1);
    for (const name of ['KAFKA_BROKERS', 'RETENTION_TOPIC_PARTITIONS', 'RETENTION_TOPIC_REPLICATION_FACTOR']) expect(topics.err).toContain(name);
    const secret = join(dir, 'database-url');
    writeFileSync(secret, 'not-a-url-but-a-s3cret\n');
    const migrate = await run(['migrate', 'orders'], { DATABASE_URL_FILE: secret, DATABASE_MIGRATIONS_URL_FILE: join(dir, 'absent') });
    expect(migrate.code).toBe(1);
    expect(migrate.err).toContain('DATABASE_URL: must be a postgres:// URL');
    expect(migrate.err).toContain(`DATABASE_MIGRATIONS_URL_FILE: cannot read ${join(dir, 'absent')} (ENOENT)`);
    expect(migrate.err).not.toContain('s3cret');
  });
});

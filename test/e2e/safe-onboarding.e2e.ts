import { startRetentionService } from '@retention/consumer';
import { definePolicies } from '@retention/policy';
import { sessionsService } from '@retention/service-sessions';
import { createTestLogger, waitFor } from '@retention/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/**
 * A policy's first real run needs an admin's go-ahead: new and changed policies run dry only, the
 * scheduler's misfire grace never reaches back before a policy was registered, and enabling is an
 * admin's act recorded in the ledger. The coordinator runs on a clock the test moves.
 */
describe('safe onboarding of policies', () => {
  let platform: Platform;
  // Registered at 03:30 UTC: the 03:00 slot lies within the misfire grace but before the policy existed.
  // In the past: services refuse a sweep whose asOf lies ahead of their own clock.
  let clock = new Date('2026-11-01T03:30:00.000Z');
  const now = () => new Date(clock);

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], {
      now,
      coordinatorEnv: {
        POLICIES_AUTO_ENABLE: 'false',
        SWEEP_DEFAULT_SCHEDULE: '0 3 * * *',
        SWEEP_MISFIRE_GRACE_SECONDS: '3600',
        MAINTENANCE_INTERVAL_MS: '600000',
      },
    });
    await platform.services
      .get('sessions')!
      .dataSource.query(`INSERT INTO sessions (user_id, started_at) VALUES ('old-login', now() - interval '200 days'), ('new-login', now())`);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  const sessionRows = async (): Promise<number> =>
    ((await platform.services.get('sessions')!.dataSource.query(`SELECT count(*)::int AS n FROM sessions`)) as Array<{ n: number }>)[0]!.n;
  const sweeps = async () => (await platform.api('GET', '/v1/sweeps', { token: TOKENS.auditor })).body.items as Array<{ id: string; dryRun: boolean }>;
  const policy = async () =>
    (await platform.api('GET', '/v1/policies', { token: TOKENS.auditor })).body.services
      .find((s: { service: string }) => s.service === 'sessions')
      .policies.find((p: { name: string }) => p.name === 'session_logs');

  /** The sessions service started again with services/sessions/src/retention.policy.ts at another period. */
  const startSessionsKeeping = (days: number, name: string) =>
    startRetentionService(
      {
        ...sessionsService,
        policies: definePolicies({
          service: 'sessions',
          subjects: { user: { table: 'sessions', column: 'user_id', action: 'delete' } },
          rules: [
            {
              name: 'session_logs',
              table: 'sessions',
              timestampColumn: 'started_at',
              retention: { days },
              action: 'delete',
              legalBasis: `Legitimate interest (account security): login history kept ${days} days`,
            },
          ],
        }),
      },
      platform.serviceConfigs.get('sessions')!,
      { logger: createTestLogger(name).logger },
    );

  it('a new policy is not enabled, and the scheduler does not reach back before it was registered', async () => {
    expect(await policy()).toMatchObject({ enabled: false, enabledBy: null, firstSeenAt: '2026-11-01T03:30:00.000Z' });
    expect(await platform.coordinator.maintain()).toBe(true);
    expect(await sweeps()).toEqual([]);
  });

  it('refuses a real sweep of it, and runs its dry run (by hand and in its next scheduled slot) without changing anything', async () => {
    const real = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(real.status).toBe(409);
    expect(real.body.error).toMatchObject({ code: 'policy_not_enabled', message: expect.stringContaining('sessions/session_logs') });
    const dry = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions', dryRun: true } });
    expect(dry.status).toBe(202);
    const counted = await waitFor('the dry run', async () => {
      const { body } = await platform.api('GET', `/v1/sweeps/${dry.body.id}`);
      return body.status === 'completed' ? body : undefined;
    });
    // A dry run counts what a real run would delete, and deletes nothing.
    expect(counted).toMatchObject({ dryRun: true });
    expect(counted.targets[0].tables[0]).toMatchObject({ policy: 'session_logs', matched: 1, deleted: 1 });
    expect(await sessionRows()).toBe(2);

    clock = new Date('2026-11-02T03:00:30.000Z');
    await platform.coordinator.maintain();
    const scheduled = (await sweeps()).filter((s) => s.id !== dry.body.id);
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]).toMatchObject({ dryRun: true });
    await waitFor('the scheduled dry run', async () =>
      (await platform.api('GET', `/v1/sweeps/${scheduled[0]!.id}`)).body.status === 'completed' ? true : undefined,
    );
    expect(await sessionRows()).toBe(2);
  });

  it('an admin enables it (in the ledger); then it runs for real', async () => {
    expect((await platform.api('POST', '/v1/services/sessions/policies/session_logs/enable', { token: TOKENS.auditor })).status).toBe(403);
    expect((await platform.api('POST', '/v1/services/sessions/policies/no_such_policy/enable')).status).toBe(404);
    const enabled = await platform.api('POST', '/v1/services/sessions/policies/session_logs/enable');
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ service: 'sessions', policy: 'session_logs', enabled: true, enabledBy: expect.stringMatching(/^admin:/) });
    expect(await policy()).toMatchObject({ enabled: true });
    const ledger = (await platform.coordinator.dataSource.query(`SELECT body FROM ledger_entries WHERE entry_type = 'policy.enabled'`)) as Array<{
      body: Record<string, unknown>;
    }>;
    expect(ledger).toEqual([{ body: expect.objectContaining({ policy: 'session_logs', definitionHash: enabled.body.definitionHash }) }]);

    const real = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    expect(real.status).toBe(202);
    await waitFor('the real sweep', async () => ((await platform.api('GET', `/v1/sweeps/${real.body.id}`)).body.status === 'completed' ? true : undefined));
    expect(await sessionRows()).toBe(1);
  });

  it('a changed definition runs dry only again until it is enabled anew', async () => {
    await platform.stopService('sessions');
    const restarted = await startSessionsKeeping(60, 'sessions-changed');
    try {
      await waitFor('the changed definition to register', async () => ((await policy()).period === 'P60D' ? true : undefined));
      expect(await policy()).toMatchObject({ enabled: false });
      expect((await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions', policy: 'session_logs' } })).status).toBe(409);
      expect((await platform.api('POST', '/v1/services/sessions/policies/session_logs/enable')).body.enabled).toBe(true);
    } finally {
      await restarted.stop();
    }
  });

  it('a real sweep issued for the enabled definition is refused by a service whose rule changed while it was on its way', async () => {
    // P60D is enabled and no sessions process runs: the sweep's command waits on the topic.
    const db = new pg.Client({ connectionString: platform.serviceConfigs.get('sessions')!.DATABASE_URL });
    await db.connect();
    const rows = async (): Promise<number> => (await db.query(`SELECT count(*)::int AS n FROM sessions`)).rows[0].n;
    await db.query(`INSERT INTO sessions (user_id, started_at) VALUES ('mid-login', now() - interval '45 days')`);
    const real = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions' } });
    if (real.status !== 202) await db.end();
    expect(real.status).toBe(202);
    // Then the service comes back with a rule the coordinator has not seen (30 days, which would delete the 45-day-old row).
    const restarted = await startSessionsKeeping(30, 'sessions-shorter');
    try {
      const settled = await waitFor('the sweep to settle', async () => {
        const { body } = await platform.api('GET', `/v1/sweeps/${real.body.id}`);
        return body.status === 'pending' ? undefined : body;
      });
      expect(settled).toMatchObject({ status: 'failed' });
      expect(settled.targets[0]).toMatchObject({ service: 'sessions', status: 'failed', error: expect.objectContaining({ code: 'policy_not_enabled' }) });
      expect(await rows()).toBe(2);
      await waitFor('the new definition to register', async () => ((await policy()).period === 'P30D' ? true : undefined));
      expect(await policy()).toMatchObject({ enabled: false });
    } finally {
      await restarted.stop();
      await db.end();
    }
  });
});

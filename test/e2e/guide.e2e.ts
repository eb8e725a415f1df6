// The guide's example is a standalone project (not a workspace package), so it is imported by path.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { newsletterService } from '../../docs/examples/newsletter/src/service.js';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

/** The example of docs/add-retention-to-your-service.md works as the guide says. */
describe('the "add retention to your service" guide', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform([newsletterService]);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('registers, erases a subject, and sweeps former subscribers after 30 days only', async () => {
    const db = platform.services.get('newsletter')!.dataSource;
    await db.query(`INSERT INTO subscribers (user_id, email, subscribed_at, unsubscribed_at) VALUES
      ('ann', 'ann@example.com', now() - interval '400 days', NULL),
      ('ben', 'ben@example.com', now() - interval '400 days', now() - interval '31 days'),
      ('cat', 'cat@example.com', now() - interval '400 days', now() - interval '29 days'),
      ('dan', 'dan@example.com', now() - interval '400 days', NULL)`);

    const policies = (await platform.api('GET', '/v1/policies', { token: TOKENS.auditor })).body;
    expect(policies.services[0].policies[0]).toMatchObject({
      name: 'former_subscribers',
      period: 'P30D',
      conditions: [{ column: 'unsubscribed_at', op: 'is_not_null' }],
    });

    const erasure = await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'ann' } } });
    expect(await platform.waitForRequest(erasure.body.id)).toMatchObject({
      status: 'completed',
      targets: [{ service: 'newsletter', tables: [expect.objectContaining({ deleted: 1 })] }],
    });

    const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'newsletter' } });
    await waitFor('sweep', async () => ((await platform.api('GET', `/v1/sweeps/${sweep.body.id}`)).body.status === 'completed' ? true : undefined));
    const left = (await db.query(`SELECT user_id FROM subscribers ORDER BY user_id`)) as Array<{ user_id: string }>;
    expect(left.map((r) => r.user_id)).toEqual(['cat', 'dan']);
  });
});

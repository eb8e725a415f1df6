import type { RetentionServiceDefinition } from '@retention/consumer';
import { CreateSubscribers1763900000000 } from './migrations/1763900000000-create-subscribers.js';
import { policies } from './retention.policy.js';
import { Subscriber } from './subscriber.entity.js';

export const newsletterService: RetentionServiceDefinition = {
  policies,
  entities: [Subscriber],
  migrations: [CreateSubscribers1763900000000],
  version: '1.0.0',
  // Optional, for local stacks: rows to play with, inserted at start when DEMO_DATA=true.
  seedDemoData: async (dataSource) => {
    const [{ n }] = (await dataSource.query('SELECT count(*)::int AS n FROM subscribers')) as [{ n: number }];
    if (n > 0) return 0; // only into an empty table
    await dataSource.query(`
      INSERT INTO subscribers (user_id, email, subscribed_at, unsubscribed_at) VALUES
        ('demo-1', 'demo-1@example.com', now() - interval '400 days', NULL),
        ('demo-2', 'demo-2@example.com', now() - interval '400 days', now() - interval '45 days')`);
    return 2;
  },
};

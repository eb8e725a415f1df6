import type { RetentionServiceDefinition } from '@retention/consumer';
import { CreateSubscribers1763900000000 } from './migrations/1763900000000-create-subscribers';
import { policies } from './retention.policy';
import { Subscriber } from './subscriber.entity';

export const newsletterService: RetentionServiceDefinition = {
  policies,
  entities: [Subscriber],
  migrations: [CreateSubscribers1763900000000],
  version: '1.0.0',
};

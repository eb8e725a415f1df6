import type { RetentionServiceDefinition } from '@retention/consumer';
import { AnalyticsEvent } from './analytics-event.entity';
import { seedDemoData } from './demo-data';
import { CreateAnalyticsEvents1763800005000 } from './migrations/1763800005000-create-analytics-events';
import { PartitionAnalyticsEvents1764900000000 } from './migrations/1764900000000-partition-analytics-events';
import { policies } from './retention.policy';

export const analyticsService: RetentionServiceDefinition = {
  policies,
  entities: [AnalyticsEvent],
  migrations: [CreateAnalyticsEvents1763800005000, PartitionAnalyticsEvents1764900000000],
  version: '0.1.0',
  seedDemoData: (dataSource) => seedDemoData(dataSource),
};

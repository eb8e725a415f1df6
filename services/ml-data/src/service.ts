import type { RetentionServiceDefinition } from '@retention/consumer';
import { seedDemoData } from './demo-data';
import { InferenceLog, TrainingRecord } from './entities';
import { CreateMlData1763800003000 } from './migrations/1763800003000-create-ml-data';
import { policies } from './retention.policy';

export const mlDataService: RetentionServiceDefinition = {
  policies,
  entities: [TrainingRecord, InferenceLog],
  migrations: [CreateMlData1763800003000],
  version: '0.1.0',
  seedDemoData: (dataSource, context) => seedDemoData(dataSource, context),
};

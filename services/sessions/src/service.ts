import type { RetentionServiceDefinition } from '@retention/consumer';
import { seedDemoData } from './demo-data';
import { CreateSessions1763800002000 } from './migrations/1763800002000-create-sessions';
import { policies } from './retention.policy';
import { Session } from './session.entity';

export const sessionsService: RetentionServiceDefinition = {
  policies,
  entities: [Session],
  migrations: [CreateSessions1763800002000],
  version: '0.1.0',
  seedDemoData: (dataSource) => seedDemoData(dataSource),
};

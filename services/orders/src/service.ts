import type { RetentionServiceDefinition } from '@retention/consumer';
import { seedDemoData } from './demo-data';
import { CreateOrders1763800004000 } from './migrations/1763800004000-create-orders';
import { Order } from './order.entity';
import { policies } from './retention.policy';

export const ordersService: RetentionServiceDefinition = {
  policies,
  entities: [Order],
  migrations: [CreateOrders1763800004000],
  version: '0.1.0',
  seedDemoData: (dataSource) => seedDemoData(dataSource),
};

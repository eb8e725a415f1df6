import type { RetentionServiceDefinition } from '@retention/consumer';
import { seedDemoData } from './demo-data';
import { CreateSupportTickets1763800006000 } from './migrations/1763800006000-create-support-tickets';
import { policies } from './retention.policy';
import { SupportTicket } from './support-ticket.entity';

export const supportService: RetentionServiceDefinition = {
  policies,
  entities: [SupportTicket],
  migrations: [CreateSupportTickets1763800006000],
  version: '0.1.0',
  seedDemoData: (dataSource) => seedDemoData(dataSource),
};

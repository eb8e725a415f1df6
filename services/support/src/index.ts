export { supportService } from './service';
export { SupportTicket, type TicketStatus } from './support-ticket.entity';
export { policies } from './retention.policy';
export { seedDemoData } from './demo-data';

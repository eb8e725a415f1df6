import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type TicketStatus = 'open' | 'pending' | 'resolved';

/** One customer support ticket: who asked, how to reach them, and what they wrote. */
@Entity({ name: 'support_tickets' })
export class SupportTicket {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'text', name: 'requester_id' })
  requesterId!: string;

  @Column({ type: 'text', name: 'requester_email' })
  requesterEmail!: string;

  @Column({ type: 'text', name: 'subject' })
  subject!: string;

  @Column({ type: 'text', name: 'body' })
  body!: string;

  @Column({ type: 'text', name: 'status', default: 'open' })
  status!: TicketStatus;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  // Kept when a ticket is reopened: the retention rule also checks the status, so a reopened
  // ticket with an old resolution date is not deleted while someone is working on it.
  @Column({ type: 'timestamptz', name: 'resolved_at', nullable: true })
  resolvedAt!: Date | null;
}

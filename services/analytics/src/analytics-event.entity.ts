import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One product-analytics event (page view, click, ...), tied to the user who caused it. */
@Entity({ name: 'analytics_events' })
export class AnalyticsEvent {
  // bigint comes back from pg as a string: exact beyond 2^53. The table is partitioned by month on
  // occurred_at, so its key in the database is (id, occurred_at); ids alone are still unique.
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Index()
  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Column({ type: 'text', name: 'event_type' })
  eventType!: string;

  // Free-form event attributes: may hold personal data, so the whole row goes, never just columns.
  @Column({ type: 'jsonb', name: 'properties', default: () => `'{}'::jsonb` })
  properties!: Record<string, unknown>;

  @Index()
  @Column({ type: 'timestamptz', name: 'occurred_at' })
  occurredAt!: Date;
}

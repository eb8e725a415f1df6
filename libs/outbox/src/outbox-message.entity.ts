import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A Kafka message written in the same transaction as the change it announces; the relay
 * publishes it and deletes the row. Values may contain subject identifiers, so rows live only
 * until published.
 */
@Entity({ name: 'retention_outbox' })
export class OutboxMessage {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  topic!: string;

  @Column({ type: 'text', nullable: true })
  key!: string | null;

  @Column({ type: 'text', nullable: true })
  value!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  headers!: Record<string, string>;

  @Column({ type: 'timestamptz', name: 'created_at', default: () => 'now()' })
  createdAt!: Date;

  /** Failed publishes that were about this message (a broker that cannot be reached does not count). */
  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Set when the relay gave up on the message; later messages of its topic and key wait behind it. */
  @Column({ type: 'timestamptz', name: 'parked_at', nullable: true })
  parkedAt!: Date | null;

  /** Code of the last publish failure (`MESSAGE_TOO_LARGE`, `UNKNOWN_TOPIC_OR_PARTITION`, …). */
  @Column({ type: 'text', name: 'last_error', nullable: true })
  lastError!: string | null;

  @Column({ type: 'timestamptz', name: 'last_attempt_at', nullable: true })
  lastAttemptAt!: Date | null;
}

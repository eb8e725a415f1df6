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

  @Column({ type: 'int', default: 0 })
  attempts!: number;
}

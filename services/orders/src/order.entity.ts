import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One purchase. The customer columns are personal data; the amount and currency are the tax
 * record that must outlive them (anonymized, never deleted, within the 7 years).
 */
@Entity({ name: 'orders' })
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'text', name: 'customer_id' })
  customerId!: string;

  @Column({ type: 'text', name: 'customer_name' })
  customerName!: string;

  @Column({ type: 'text', name: 'email' })
  email!: string;

  // Nullable so anonymization can drop it outright instead of leaving a placeholder address.
  @Column({ type: 'text', name: 'shipping_address', nullable: true })
  shippingAddress!: string | null;

  @Column({ type: 'text', name: 'phone', nullable: true })
  phone!: string | null;

  // bigint comes back from pg as a string: exact, never rounded through a JS number.
  @Column({ type: 'bigint', name: 'amount_cents' })
  amountCents!: string;

  @Column({ type: 'text', name: 'currency' })
  currency!: string;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  /** Set by the retention executor when the row is anonymized, so a sweep does it once. */
  @Column({ type: 'timestamptz', name: 'anonymized_at', nullable: true })
  anonymizedAt!: Date | null;
}

import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/*
 * Generic entities of the benchmarks. Every column has an explicit type (tsx/esbuild emit no
 * decorator metadata). The tables are created by the benchmarks' own DDL (see sweep.bench.ts and
 * gauge.bench.ts), which matches these declarations; TypeORM only needs the metadata, which is
 * what bindPolicies checks the policies against.
 */

/** Sweep delete: id bigserial pk, user_id text, created_at timestamptz (indexed), payload text. */
@Entity({ name: 'bench_events' })
export class BenchEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'text' })
  payload!: string;
}

/** Sweep anonymize: the same, plus the personal columns rewritten and the marker column. */
@Entity({ name: 'bench_profiles' })
export class BenchProfile {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'text' })
  payload!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text', nullable: true })
  phone!: string | null;

  @Column({ type: 'timestamptz', name: 'anonymized_at', nullable: true })
  anonymizedAt!: Date | null;
}

/** Sweep per-record: the delete table plus a per-row period in days (NULL: the rule's default). */
@Entity({ name: 'bench_records' })
export class BenchRecord {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'int', name: 'retention_days', nullable: true })
  retentionDays!: number | null;

  @Column({ type: 'text' })
  payload!: string;
}

/** Partitioned sweep: range-partitioned by month on created_at; the key in the database is (id, created_at). */
@Entity({ name: 'bench_part' })
export class BenchPart {
  @PrimaryColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'text' })
  payload!: string;
}

/** Gauge scrape: a large table with a delete rule and an anonymize rule (marker) on it. */
@Entity({ name: 'bench_gauge' })
export class BenchGauge {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'text' })
  payload!: string;

  @Column({ type: 'timestamptz', name: 'anonymized_at', nullable: true })
  anonymizedAt!: Date | null;

  @Column({ type: 'int', name: 'retention_days', nullable: true })
  retentionDays!: number | null;
}

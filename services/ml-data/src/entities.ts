import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A labelled example used to train models; its raw input is a file under the files root. */
@Entity({ name: 'training_records' })
export class TrainingRecord {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  /** Path of the raw input, relative to RETENTION_FILES_ROOT. */
  @Column({ type: 'text', name: 'artifact_path', nullable: true })
  artifactPath!: string | null;

  @Column({ type: 'text' })
  label!: string;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;
}

/** One prediction served to a user: kept briefly for debugging and drift monitoring. */
@Entity({ name: 'inference_logs' })
export class InferenceLog {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index()
  @Column({ type: 'text', name: 'user_id' })
  userId!: string;

  @Column({ type: 'text', name: 'model_version' })
  modelVersion!: string;

  @Column({ type: 'jsonb' })
  prediction!: unknown;

  @Index()
  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;
}

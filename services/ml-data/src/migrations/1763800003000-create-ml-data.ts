import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateMlData1763800003000 implements MigrationInterface {
  name = 'CreateMlData1763800003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE training_records (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id text NOT NULL,
        artifact_path text,
        label text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX training_records_user_id ON training_records (user_id)');
    await q.query('CREATE INDEX training_records_created_at ON training_records (created_at)');
    await q.query(`
      CREATE TABLE inference_logs (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        model_version text NOT NULL,
        prediction jsonb NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX inference_logs_user_id ON inference_logs (user_id)');
    await q.query('CREATE INDEX inference_logs_created_at ON inference_logs (created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE inference_logs');
    await q.query('DROP TABLE training_records');
  }
}

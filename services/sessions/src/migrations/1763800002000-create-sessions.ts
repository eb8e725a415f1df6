import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSessions1763800002000 implements MigrationInterface {
  name = 'CreateSessions1763800002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id text NOT NULL,
        started_at timestamptz NOT NULL,
        ip_address text,
        user_agent text
      )`);
    await q.query('CREATE INDEX sessions_user_id ON sessions (user_id)');
    await q.query('CREATE INDEX sessions_started_at ON sessions (started_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sessions');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ErasureProbes1765600001000 implements MigrationInterface {
  name = 'ErasureProbes1765600001000';

  async up(q: QueryRunner): Promise<void> {
    // One row per probe, request and target: sent pending, then what the service still stores.
    await q.query(`
      CREATE TABLE erasure_probes (
        probe_id uuid NOT NULL,
        request_id uuid NOT NULL REFERENCES retention_requests (id),
        service text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('completion', 'sample', 'manual')),
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'clean', 'found', 'held', 'not_applicable', 'unknown')),
        remaining int,
        held int,
        tables jsonb,
        sent_at timestamptz NOT NULL,
        answered_at timestamptz,
        PRIMARY KEY (probe_id, request_id, service)
      )`);
    await q.query('CREATE INDEX erasure_probes_request ON erasure_probes (request_id, trigger)');
    await q.query('CREATE INDEX erasure_probes_sent ON erasure_probes (trigger, sent_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE erasure_probes');
  }
}

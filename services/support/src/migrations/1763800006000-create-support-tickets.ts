import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSupportTickets1763800006000 implements MigrationInterface {
  name = 'CreateSupportTickets1763800006000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE support_tickets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        requester_id text NOT NULL,
        requester_email text NOT NULL,
        subject text NOT NULL,
        body text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved')),
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        -- A resolved ticket without a resolution date would never fall under the retention rule.
        CONSTRAINT support_tickets_resolved_has_date CHECK (status <> 'resolved' OR resolved_at IS NOT NULL)
      )`);
    await q.query('CREATE INDEX support_tickets_requester_id ON support_tickets (requester_id)');
    // Exactly the rows the retention rule scans.
    await q.query(`CREATE INDEX support_tickets_resolved_at ON support_tickets (resolved_at) WHERE status = 'resolved'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE support_tickets');
  }
}

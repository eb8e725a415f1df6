import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Months of partitions created behind and ahead of the month the migration runs in. */
const MONTHS_BACK = 36;
const MONTHS_AHEAD = 12;

/**
 * Range-partitions `analytics_events` by month on `occurred_at` (native declarative partitioning),
 * so that a sweep drops each month wholly past the 13-month period instead of deleting its rows
 * one batch at a time. Partitions are created for 36 months back and 12 ahead; rows outside them
 * land in the default partition, which is never dropped (swept in batches). Creating the months
 * ahead is the job of whoever manages the table in production (pg_partman, or a monthly migration).
 *
 * The key becomes (id, occurred_at): a partitioned table's unique constraints must include the
 * partition key. Ids still come from the same sequence and stay unique.
 */
export class PartitionAnalyticsEvents1764900000000 implements MigrationInterface {
  name = 'PartitionAnalyticsEvents1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE analytics_events RENAME TO analytics_events_unpartitioned');
    await q.query('ALTER TABLE analytics_events_unpartitioned RENAME CONSTRAINT analytics_events_pkey TO analytics_events_unpartitioned_pkey');
    await q.query('ALTER INDEX analytics_events_user_id RENAME TO analytics_events_unpartitioned_user_id');
    await q.query('ALTER INDEX analytics_events_occurred_at RENAME TO analytics_events_unpartitioned_occurred_at');
    await q.query('ALTER SEQUENCE analytics_events_id_seq OWNED BY NONE');
    await q.query(`
      CREATE TABLE analytics_events (
        id bigint NOT NULL DEFAULT nextval('analytics_events_id_seq'),
        user_id text NOT NULL,
        event_type text NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (id, occurred_at)
      ) PARTITION BY RANGE (occurred_at)`);
    await q.query('ALTER SEQUENCE analytics_events_id_seq OWNED BY analytics_events.id');
    // Month bounds in UTC, whatever the session's time zone.
    await q.query(`
      DO $$
      DECLARE m timestamptz;
      BEGIN
        FOR i IN -${MONTHS_BACK}..${MONTHS_AHEAD} LOOP
          m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
          EXECUTE format('CREATE TABLE %I PARTITION OF analytics_events FOR VALUES FROM (%L) TO (%L)',
            'analytics_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM'), m, ((m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
        END LOOP;
      END $$`);
    await q.query('CREATE TABLE analytics_events_default PARTITION OF analytics_events DEFAULT');
    await q.query('CREATE INDEX analytics_events_user_id ON analytics_events (user_id)');
    await q.query('CREATE INDEX analytics_events_occurred_at ON analytics_events (occurred_at)');
    await q.query('INSERT INTO analytics_events SELECT id, user_id, event_type, properties, occurred_at FROM analytics_events_unpartitioned');
    await q.query('DROP TABLE analytics_events_unpartitioned');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE analytics_events RENAME TO analytics_events_partitioned');
    await q.query('ALTER TABLE analytics_events_partitioned RENAME CONSTRAINT analytics_events_pkey TO analytics_events_partitioned_pkey');
    await q.query('ALTER INDEX analytics_events_user_id RENAME TO analytics_events_partitioned_user_id');
    await q.query('ALTER INDEX analytics_events_occurred_at RENAME TO analytics_events_partitioned_occurred_at');
    await q.query('ALTER SEQUENCE analytics_events_id_seq OWNED BY NONE');
    await q.query(`
      CREATE TABLE analytics_events (
        id bigint PRIMARY KEY DEFAULT nextval('analytics_events_id_seq'),
        user_id text NOT NULL,
        event_type text NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurred_at timestamptz NOT NULL
      )`);
    await q.query('ALTER SEQUENCE analytics_events_id_seq OWNED BY analytics_events.id');
    await q.query('INSERT INTO analytics_events SELECT id, user_id, event_type, properties, occurred_at FROM analytics_events_partitioned');
    await q.query('DROP TABLE analytics_events_partitioned');
    await q.query('CREATE INDEX analytics_events_user_id ON analytics_events (user_id)');
    await q.query('CREATE INDEX analytics_events_occurred_at ON analytics_events (occurred_at)');
  }
}

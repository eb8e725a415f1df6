import type { EntityManager } from 'typeorm';

/** How far the deletion journal goes: what a service puts in its registration (service.registered 1.3 `journal`). */
export interface JournalPosition {
  entries: number;
  /** The newest entry's `erased_at` (absent for an empty journal). */
  lastErasedAt?: string;
}

/**
 * The journal's size and newest entry. Published at every start, it lets the coordinator see a
 * restored (or lost) database: fewer entries than the erasures the service acked before.
 */
export async function journalPosition(manager: Pick<EntityManager, 'query'>): Promise<JournalPosition> {
  const [row] = (await manager.query(`SELECT count(*)::int AS entries, max(erased_at) AS last FROM retention_deletion_journal`)) as Array<{
    entries: number;
    last: Date | null;
  }>;
  return { entries: row?.entries ?? 0, ...(row?.last ? { lastErasedAt: new Date(row.last).toISOString() } : {}) };
}

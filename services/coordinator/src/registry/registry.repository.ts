import type { ServiceRegistered } from '@retention/contracts';
import type { DataSource, EntityManager } from 'typeorm';

/** Stores a service's latest manifest. A service is never removed: open requests keep their targets. */
export async function upsertService(manager: EntityManager, manifest: ServiceRegistered): Promise<void> {
  await manager.query(
    `INSERT INTO registered_services (service, version, policy_hash, subject_types, manifest)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (service) DO UPDATE SET version = EXCLUDED.version, policy_hash = EXCLUDED.policy_hash,
       subject_types = EXCLUDED.subject_types, manifest = EXCLUDED.manifest, updated_at = now()`,
    [manifest.service, manifest.version, manifest.policyHash, manifest.subjects.map((s) => s.type), manifest],
  );
}

/** The services whose manifests say they store data of `subjectType`. */
export async function servicesStoring(manager: EntityManager, subjectType: string): Promise<string[]> {
  const rows = (await manager.query(`SELECT service FROM registered_services WHERE $1 = ANY(subject_types) ORDER BY service`, [subjectType])) as Array<{
    service: string;
  }>;
  return rows.map((r) => r.service);
}

export async function listServices(dataSource: DataSource): Promise<ServiceRegistered[]> {
  const rows = (await dataSource.query(`SELECT manifest FROM registered_services ORDER BY service`)) as Array<{ manifest: ServiceRegistered }>;
  return rows.map((r) => r.manifest);
}

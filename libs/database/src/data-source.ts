import { DataSource, type EntitySchema, type MixedList, type Logger as TypeOrmLogger } from 'typeorm';
import { watchConnectionLoss } from './connection-loss';

export interface DataSourceOptions {
  url: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  logger?: TypeOrmLogger;
  /** Connection pool size. */
  poolSize?: number;
  applicationName?: string;
  /**
   * Schemas every connection searches, first one first: unqualified tables (the migrations' own,
   * the outbox entity, TypeORM's migrations table) are created and found in the first. Default:
   * the server's search path. Plain identifiers only (`[a-z_][a-z0-9_]*`).
   */
  searchPath?: readonly string[];
}

/**
 * A PostgreSQL DataSource. Schemas change only through migrations (`synchronize` is never on);
 * every statement has a timeout so that a lock wait cannot hang a batch forever.
 */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'typeorm_migrations',
    ...(options.searchPath?.length ? { schema: options.searchPath[0] } : {}),
    migrationsTransactionMode: 'each',
    synchronize: false,
    // TypeORM would run CREATE EXTENSION "uuid-ossp" at every start (DDL that a role without DDL
    // rights cannot run, and a warning each time); no migration uses it (they use gen_random_uuid()).
    installExtensions: false,
    logging: ['error', 'warn', 'migration'],
    logger: options.logger ?? 'advanced-console',
    maxQueryExecutionTime: 5_000,
    extra: {
      max: options.poolSize ?? 10,
      application_name: options.applicationName ?? 'retention',
      ...(options.searchPath?.length ? { options: `-c search_path=${searchPath(options.searchPath)}` } : {}),
      statement_timeout: 60_000,
      idle_in_transaction_session_timeout: 120_000,
      // Lets retry decisions recognise a dropped connection, which pg reports without a code.
      onConnect: watchConnectionLoss,
    },
  });
}

function searchPath(schemas: readonly string[]): string {
  for (const s of schemas) if (!/^[a-z_][a-z0-9_]{0,62}$/.test(s)) throw new Error(`schema "${s}" must be a plain identifier ([a-z_][a-z0-9_]*)`);
  return schemas.join(',');
}

/** Initializes the DataSource and applies pending migrations. */
export async function openDatabase(dataSource: DataSource, options: { migrate?: boolean } = {}): Promise<DataSource> {
  if (!dataSource.isInitialized) await dataSource.initialize();
  if (options.migrate ?? true) await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
}

/** A readiness probe: null when the database answers, else the reason. */
export function databaseReadiness(dataSource: DataSource): () => Promise<string | null> {
  return async () => {
    try {
      await dataSource.query('SELECT 1');
      return null;
    } catch {
      return 'database unreachable';
    }
  };
}

export * from './data-source';
export * from './pending-migrations';
export * from './ensure-database';
export * from './typeorm-logger';
export * from './sql';
export * from './connection-loss';

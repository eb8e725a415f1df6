export * from './data-source';
export * from './ensure-database';
export * from './typeorm-logger';
export * from './sql';
export * from './connection-loss';

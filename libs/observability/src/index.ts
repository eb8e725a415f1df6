export * from './logger';
export * from './metrics';
export * from './telemetry';
export * from './ops-server';
export * from './run-main';
export * from './metrics-cache';

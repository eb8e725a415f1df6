export * from './client';
export * from './topics';
export * from './producer';
export * from './consumer';
export * from './headers';
export * from './catch-up';
export * from './consumer-lag.gauge';
export * from './dead-letter.metric';

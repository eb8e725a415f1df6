export * from './load-config';
export * from './common';
export * from './signing';
export * from './kafka-security';

export * from './errors';
export * from './topics';
export * from './schemas';
export * from './envelope';
export * from './headers';
export * from './asyncapi';
export * from './message-signature';
export * from './retriable';

export * from './config';
export * from './policy-file';
export * from './introspect';
export * from './bind-schema';
export * from './start-agent';

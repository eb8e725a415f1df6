export * from './stack';
export * from './names';
export * from './databases';
export * from './wait-for';
export * from './logger';
export * from './signing-keys';
export * from './secured-stack';
export * from './receipts';

export * from './config';
export * from './retention-service';
export * from './run-retention-service';
export * from './command.handler';
export * from './metrics';
export * from './pg-errors';
export { CreateRetentionInbox1763800000200 } from './inbox.migration';
export * from './oldest-unprocessed.gauge';
export * from './file-deletions.gauge';

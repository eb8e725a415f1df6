export { main, type CliIo } from './main';
export { ApiError, createApiClient, type ApiClient } from './api-client';
export { TopicsApplyEnv, topicsApply, type TopicsApplyResult } from './operations/topics-apply';
export { MigrateEnv, migrate, type MigrateResult } from './operations/migrate';

export { main, type CliIo } from './main';
export { ApiError, createApiClient, type ApiClient } from './api-client';

import { loadConfig } from '@retention/config';
import { createLogger, runMain } from '@retention/observability';
import { startCoordinator } from './app';
import { CoordinatorEnv } from './config';

const logger = createLogger({ service: 'coordinator', level: process.env.LOG_LEVEL || 'info' });
await runMain(logger, () => startCoordinator(loadConfig(CoordinatorEnv), { logger }));

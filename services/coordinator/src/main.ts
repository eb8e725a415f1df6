import { loadConfig } from '@retention/config';
import { ConfigError } from '@retention/contracts';
import { createLogger } from '@retention/observability';
import { startCoordinator } from './app';
import { CoordinatorEnv } from './config';

const logger = createLogger({ service: 'coordinator', level: process.env.LOG_LEVEL || 'info' });

try {
  const config = loadConfig(CoordinatorEnv);
  const coordinator = await startCoordinator(config, { logger });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    coordinator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  if (error instanceof ConfigError) logger.fatal({ code: error.code, issues: error.issues }, error.message);
  else logger.fatal({ err: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'failed to start');
  process.exit(1);
}

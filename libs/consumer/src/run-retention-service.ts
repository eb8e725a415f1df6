import { loadConfig } from '@retention/config';
import { ConfigError } from '@retention/contracts';
import { createLogger } from '@retention/observability';
import { ServiceEnv } from './config';
import { type RetentionServiceDefinition, startRetentionService } from './retention-service';

/**
 * The whole `main.ts` of a domain service: reads its configuration from the environment, starts
 * it, and on SIGTERM/SIGINT stops taking commands, lets the batch in flight commit, disconnects
 * and closes the database. Invalid configuration or policies exit with code 1 and every problem named.
 */
export async function runRetentionService(definition: RetentionServiceDefinition): Promise<void> {
  const logger = createLogger({ service: definition.policies.service, level: process.env.LOG_LEVEL || 'info' });
  try {
    const config = loadConfig(ServiceEnv);
    const running = await startRetentionService(definition, config, { logger });
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running.stop().then(
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
}

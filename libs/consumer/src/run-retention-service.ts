import { loadConfig } from '@retention/config';
import { createLogger, runMain } from '@retention/observability';
import { ServiceEnv } from './config';
import { type RetentionServiceDefinition, startRetentionService } from './retention-service';

/**
 * The whole `main.ts` of a domain service: reads its configuration from the environment, starts
 * it, and on SIGTERM/SIGINT stops taking commands, lets the batch in flight commit, disconnects
 * and closes the database. Invalid configuration or policies exit with code 1 and every problem named.
 */
export async function runRetentionService(definition: RetentionServiceDefinition): Promise<void> {
  const logger = createLogger({ service: definition.policies.service, level: process.env.LOG_LEVEL || 'info' });
  await runMain(logger, () => startRetentionService(definition, loadConfig(ServiceEnv), { logger }));
}

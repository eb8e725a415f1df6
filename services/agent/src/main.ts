import { createLogger, runMain } from '@retention/observability';
import { loadAgentConfig } from './config';
import { checkAgentPolicies, migrateAgent, startAgent } from './start-agent';

const logger = createLogger({ service: process.env.RETENTION_SERVICE_NAME || 'retention-agent', level: process.env.LOG_LEVEL || 'info' });

if (process.argv.includes('--migrate')) {
  // Creates the agent's schema and applies its migrations, then exits (a deploy step with DDL rights).
  await runMain(logger, async () => {
    const applied = await migrateAgent(loadAgentConfig());
    process.stdout.write(`${JSON.stringify({ applied }, null, 2)}\n`);
    process.exit(0);
  });
} else if (process.argv.includes('--check')) {
  // Checks the policy file against the live schema and prints the index advice, then exits.
  await runMain(logger, async () => {
    const check = await checkAgentPolicies(loadAgentConfig(), { logger });
    process.stdout.write(`${JSON.stringify(check, null, 2)}\n`);
    process.exit(0);
  });
} else {
  await runMain(logger, () => startAgent(loadAgentConfig(), { logger }));
}

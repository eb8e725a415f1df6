import { loadConfig } from '@retention/config';
import { type ServiceConfig, ServiceEnv } from '@retention/consumer';
import { ConfigError, type Issue, ServiceName } from '@retention/contracts';
import { z } from 'zod';

const SchemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lowercase identifier ([a-z_][a-z0-9_]*)');

/** The agent's own settings, on top of a domain service's (every key is in services/agent/README.md). */
export const AgentEnv = z
  .object({
    /** The policy file (YAML or JSON) the agent applies. */
    RETENTION_AGENT_POLICY_FILE: z.string().min(1),
    /** The service's name in the registry; when the file names one too, both must agree. */
    RETENTION_SERVICE_NAME: ServiceName.optional(),
    /** The schema of the agent's own tables (inbox, outbox, holds, audit): never the application's. */
    RETENTION_AGENT_SCHEMA: SchemaName.default('retention_agent'),
    /** The schema of the application's tables that the policies name. */
    RETENTION_AGENT_DATA_SCHEMA: SchemaName.default('public'),
  })
  .refine((c) => c.RETENTION_AGENT_SCHEMA !== c.RETENTION_AGENT_DATA_SCHEMA, {
    path: ['RETENTION_AGENT_SCHEMA'],
    message: 'must differ from RETENTION_AGENT_DATA_SCHEMA (the agent keeps its tables apart from the application)',
  });

/** Everything the agent is configured with: a domain service's settings and its own. */
export interface AgentConfig {
  service: ServiceConfig;
  agent: z.output<typeof AgentEnv>;
}

/** Reads and validates the agent's configuration; every bad or missing key is named at once. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const issues: Issue[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(...error.issues);
      return undefined;
    }
  };
  const service = attempt(() => loadConfig(ServiceEnv, env));
  const agent = attempt(() => loadConfig(AgentEnv, env));
  if (!service || !agent) throw new ConfigError('invalid configuration', issues);
  return { service, agent };
}

import { ConfigError, toIssues } from '@retention/contracts';
import type { z } from 'zod';

/**
 * Reads the environment once, validates it against `schema` and returns the typed result. Every
 * invalid or missing key is reported at once, by name, in a {@link ConfigError}.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // An empty variable means "not set", so defaults apply (as in most process managers' env files).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError('invalid configuration', toIssues(parsed.error));
  return parsed.data;
}

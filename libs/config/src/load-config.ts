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
  if (!parsed.success) {
    // "expected string, received undefined" says less than "is required" to someone editing an env file.
    const issues = toIssues(parsed.error).map((issue, i) => {
      const raw = parsed.error.issues[i];
      const missing = raw?.code === 'invalid_type' && raw.path.length === 1 && !(String(raw.path[0]) in cleaned);
      return missing ? { path: issue.path, message: 'is required' } : issue;
    });
    throw new ConfigError('invalid configuration', issues);
  }
  return parsed.data;
}

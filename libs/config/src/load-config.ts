import { readFileSync, statSync } from 'node:fs';
import { ConfigError, type Issue, toIssues } from '@retention/contracts';
import { z } from 'zod';

/**
 * Reads the environment once, validates it against `schema` and returns the typed result. Every
 * invalid or missing key is reported at once, by name, in a {@link ConfigError}.
 *
 * Any key `X` of an object schema can instead be given as a file: `X_FILE` names a file whose
 * contents (one trailing newline dropped) become `X`. That is how secrets reach a process
 * (Kubernetes Secret volumes, compose secrets) without sitting in its environment. Setting both
 * `X` and `X_FILE`, or naming a file that cannot be read, is an error naming the variable (never
 * the value). Keys the schema itself declares with a `_FILE` suffix (RETENTION_SIGNING_KEY_FILE,
 * KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_*_FILE) keep their own meaning: the schema reads those.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // An empty variable means "not set", so defaults apply (as in most process managers' env files).
  const cleaned: Record<string, string> = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const fileIssues = readFileBackedKeys(schemaKeys(schema), cleaned);
  const parsed = schema.safeParse(cleaned);
  const fromFiles = new Set(fileIssues.map((i) => i.path.replace(/_FILE$/, '')));
  const issues = parsed.success
    ? []
    : toIssues(parsed.error)
        .map((issue, i) => {
          // "expected string, received undefined" says less than "is required" to someone editing an env file.
          const raw = parsed.error.issues[i];
          const missing = raw?.code === 'invalid_type' && raw.path.length === 1 && !(String(raw.path[0]) in cleaned);
          return missing ? { path: issue.path, message: 'is required' } : issue;
        })
        // A key whose file could not be read is named once, by its *_FILE issue.
        .filter((issue) => !fromFiles.has(issue.path));
  if (fileIssues.length > 0 || !parsed.success) throw new ConfigError('invalid configuration', [...fileIssues, ...issues]);
  return parsed.data;
}

/** The keys of an object schema (refinements and checks keep the shape); none for other schemas. */
function schemaKeys(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/**
 * Replaces each `X_FILE` (for a key X of the schema that is not itself a `_FILE` key of it) by `X`
 * read from that file, in place; returns what went wrong, by variable.
 */
function readFileBackedKeys(keys: readonly string[], env: Record<string, string>): Issue[] {
  const declared = new Set(keys);
  const issues: Issue[] = [];
  for (const key of keys) {
    const fileKey = `${key}_FILE`;
    const path = env[fileKey];
    if (path === undefined || declared.has(fileKey)) continue;
    delete env[fileKey];
    if (env[key] !== undefined) {
      issues.push({ path: key, message: `set either ${key} or ${fileKey}, not both` });
      continue;
    }
    const content = readSecretFile(path);
    if ('problem' in content) issues.push({ path: fileKey, message: content.problem });
    else env[key] = content.value;
  }
  return issues;
}

function readSecretFile(path: string): { value: string } | { problem: string } {
  try {
    if (!statSync(path).isFile()) return { problem: `${path} is not a regular file` };
    const value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    return value === '' ? { problem: `${path} is empty` } : { value };
  } catch (error) {
    // The code (ENOENT, EACCES) says what is wrong; the file's contents never reach a message.
    return { problem: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

import { readFile, stat } from 'node:fs/promises';
import { ConfigError, type Issue } from '@retention/contracts';
import { definePolicies, type PolicyFileInput, type Policies } from '@retention/policy';
import { parseDocument } from 'yaml';

/** A policy file bigger than this is refused: it is a mistake (or not a policy file). */
const MAX_BYTES = 1_000_000;

/** What a policy file gives the agent: the SDK's policy model, and the version it registers. */
export interface AgentPolicies {
  policies: Policies;
  /** `version` of the file (default `1`): shown in the registry next to the policy hash. */
  version: string;
}

/**
 * Reads a policy file (YAML, or JSON, which is YAML too) and validates it with the same model as
 * the SDK's `definePolicies`: the same rules, strategies and bounds, the same errors. The file is
 * the `definePolicies` input plus an optional `version`; `service` may come from
 * `RETENTION_SERVICE_NAME` instead (both given: they must agree).
 */
export async function loadPolicyFile(path: string, options: { serviceName?: string; minPeriodDays?: number } = {}): Promise<AgentPolicies> {
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    (error: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read the policy file ${path}`, [{ path: 'RETENTION_AGENT_POLICY_FILE', message: error.code ?? 'unreadable' }]);
    },
  );
  if (size < 0) throw new ConfigError(`cannot read the policy file ${path}`, [{ path: 'RETENTION_AGENT_POLICY_FILE', message: 'is not a file' }]);
  if (size > MAX_BYTES) throw new ConfigError(`policy file ${path} is too large`, [{ path: '(root)', message: `${size} bytes, more than ${MAX_BYTES}` }]);
  return parsePolicyFile(await readFile(path, 'utf8'), { ...options, origin: path });
}

/** {@link loadPolicyFile} on the file's text (`origin` names it in errors). */
export function parsePolicyFile(text: string, options: { serviceName?: string; minPeriodDays?: number; origin?: string } = {}): AgentPolicies {
  const origin = options.origin ?? 'policy file';
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: Issue[] = doc.errors.map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(root)',
      message: e.message.split('\n')[0]!,
    }));
    throw new ConfigError(`${origin} is not valid YAML or JSON`, issues);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(`${origin} must hold an object`, [{ path: '(root)', message: 'expected keys service, subjects, rules…' }]);
  const { version, ...input } = raw as Record<string, unknown>;
  if (version !== undefined && (typeof version !== 'string' || !/^[A-Za-z0-9._+-]{1,64}$/.test(version)))
    throw new ConfigError(`invalid policy file ${origin}`, [{ path: 'version', message: 'must be a string of letters, digits and . _ + - (at most 64)' }]);
  if (options.serviceName) {
    if (input.service !== undefined && input.service !== options.serviceName)
      throw new ConfigError(`invalid policy file ${origin}`, [
        { path: 'service', message: `is "${String(input.service)}" but RETENTION_SERVICE_NAME is "${options.serviceName}"` },
      ]);
    input.service = options.serviceName;
  }
  if (input.service === undefined)
    throw new ConfigError(`invalid policy file ${origin}`, [{ path: 'service', message: 'is required (in the file, or set RETENTION_SERVICE_NAME)' }]);
  const policies = definePolicies(input as PolicyFileInput, { minPeriodDays: options.minPeriodDays });
  return { policies, version: version ?? '1' };
}

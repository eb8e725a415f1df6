import type { Issue } from '@retention/contracts';
import { type Period, shortestPeriodDays } from './period';

/** A retention period shorter than this is refused unless the service configures another floor. */
export const DEFAULT_MIN_PERIOD_DAYS = 1;

interface BoundedRule {
  name: string;
  timestampColumn?: string;
  retention: Period;
}

/**
 * What keeps a policy from reaching too far: every table rule is bounded by a timestamp column
 * (without one, every row would be due), and no period is shorter than `minPeriodDays`. Directory
 * rules are bounded by each file's modification time, so only their period is checked. Each issue
 * names the policy.
 */
export function policyBoundIssues(
  policies: { rules: readonly BoundedRule[]; directories: ReadonlyArray<{ name: string; retention: Period }> },
  minPeriodDays: number = DEFAULT_MIN_PERIOD_DAYS,
): Issue[] {
  const issues: Issue[] = [];
  const floor = (name: string, period: Period, path: string): void => {
    const days = shortestPeriodDays(period);
    if (days < minPeriodDays) {
      issues.push({
        path,
        message: `policy "${name}" keeps data at least ${days} day(s), shorter than the floor of ${minPeriodDays} day(s) (a month counts as 28 days, a year as 365)`,
      });
    }
  };
  for (const [i, rule] of policies.rules.entries()) {
    if (!rule.timestampColumn) {
      issues.push({
        path: `rules[${i}].timestampColumn`,
        message: `policy "${rule.name}" has no timestamp column: nothing would bound what a sweep takes (every row would be due)`,
      });
    }
    floor(rule.name, rule.retention, `rules[${i}].retention`);
  }
  for (const [i, dir] of policies.directories.entries()) floor(dir.name, dir.retention, `directories[${i}].retention`);
  return issues;
}

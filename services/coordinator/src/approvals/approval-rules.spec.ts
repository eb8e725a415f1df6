import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { approvalsEnv } from './approval-rules';

const Env = z.object(approvalsEnv);

describe('RETENTION_APPROVALS', () => {
  it('is off by default, with a threshold of 1000', () => {
    const env = Env.parse({});
    expect([...env.RETENTION_APPROVALS]).toEqual([]);
    expect(env.RETENTION_APPROVAL_BULK_THRESHOLD).toBe(1000);
  });

  it('takes the rules comma-separated, spaces and repeats allowed', () => {
    const env = Env.parse({ RETENTION_APPROVALS: ' sweep-first-run, bulk ,hold-release,bulk', RETENTION_APPROVAL_BULK_THRESHOLD: '50' });
    expect([...env.RETENTION_APPROVALS].sort()).toEqual(['bulk', 'hold-release', 'sweep-first-run']);
    expect(env.RETENTION_APPROVAL_BULK_THRESHOLD).toBe(50);
  });

  it('refuses an unknown rule, naming the known ones, and a threshold over the bulk bound', () => {
    const bad = Env.safeParse({ RETENTION_APPROVALS: 'bulk,erase-everything' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('sweep-first-run, bulk, hold-release');
    expect(Env.safeParse({ RETENTION_APPROVAL_BULK_THRESHOLD: '10001' }).success).toBe(false);
  });
});

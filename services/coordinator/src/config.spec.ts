import { loadConfig } from '@retention/config';
import { createTestKeys } from '@retention/testing/signing-keys';
import { describe, expect, it } from 'vitest';
import { CoordinatorEnv } from './config';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  RETENTION_API_TOKENS: 'admin:admin-token-0123456789abcdef',
  RETENTION_SUBJECT_HMAC_KEY: 'test-hmac-key-0123456789',
  ...createTestKeys([]).coordinatorEnv(),
};

describe('coordinator configuration', () => {
  it('refuses a default grace period that reaches the subject id age limit (every scheduled erasure would be sent without its subject)', () => {
    expect(() => loadConfig(CoordinatorEnv, { ...base, RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: '600', RETENTION_ERASURE_GRACE_SECONDS: '600' })).toThrow(
      /RETENTION_ERASURE_GRACE_SECONDS.*shorter than RETENTION_SUBJECT_ID_MAX_AGE_SECONDS/s,
    );
    // A short age limit alone still starts (a request's notBefore is bounded by it where it is checked).
    expect(loadConfig(CoordinatorEnv, { ...base, RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: '600', RETENTION_ERASURE_GRACE_SECONDS: '300' })).toMatchObject({
      RETENTION_ERASURE_GRACE_SECONDS: 300,
    });
    expect(loadConfig(CoordinatorEnv, { ...base, RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: '600' })).toMatchObject({
      RETENTION_ERASURE_MAX_GRACE_SECONDS: 1_209_600,
    });
    expect(loadConfig(CoordinatorEnv, base)).toMatchObject({ RETENTION_ERASURE_MAX_GRACE_SECONDS: 1_209_600, RETENTION_SUBJECT_ID_MAX_AGE_SECONDS: 7_776_000 });
  });
});

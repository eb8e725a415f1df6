import { ConfigError } from '@retention/contracts';
import { describe, expect, it } from 'vitest';
import { definePolicies, type PolicyFileInput } from './define-policies';

const rule = {
  name: 'logs',
  table: 'logs',
  timestampColumn: 'created_at',
  retention: { days: 30 },
  action: 'delete' as const,
  legalBasis: 'Legitimate interest',
};

function issues(input: PolicyFileInput): string[] {
  try {
    definePolicies(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

describe('definePolicies', () => {
  it('accepts a valid file and fills defaults', () => {
    const p = definePolicies({ service: 'svc', subjects: { user: { table: 'logs', column: 'user_id' } }, rules: [rule] });
    expect(p.rules[0]).toMatchObject({ batchSize: 1000, conditions: [] });
    expect(p.subjects.user).toEqual([{ table: 'logs', column: 'user_id', action: 'delete', anonymize: undefined, markerColumn: undefined }]);
  });

  it('names every problem by path', () => {
    expect(
      issues({
        service: 'Bad Name',
        rules: [
          { ...rule, retention: { days: 0 } },
          { ...rule, name: 'logs', action: 'anonymize' },
          {
            ...rule,
            name: 'c',
            conditions: [
              { column: 'status', op: 'in', value: 'x' },
              { column: 'x', op: 'is_null', value: 1 },
            ],
          },
        ],
      }),
    ).toEqual([
      'service: must be lowercase letters, digits and dashes, starting with a letter',
      'rules.0.retention: must be longer than zero (years, months and/or days)',
      'rules.1.anonymize: required when action is anonymize',
      'rules.1.markerColumn: required when action is anonymize (a nullable timestamptz column)',
      'rules.2.conditions.0.value: must be a list for operator in',
      'rules.2.conditions.1.value: not allowed for operator is_null',
      'rules.1.name: duplicate policy name "logs"',
    ]);
  });

  it('rejects raw SQL where identifiers belong', () => {
    expect(issues({ service: 'svc', rules: [{ ...rule, table: 'logs; DROP TABLE x' }] })).toEqual(['rules.0.table: must be a lowercase SQL identifier']);
  });

  it('requires an anonymizing erasure to rewrite the subject column', () => {
    expect(
      issues({
        service: 'svc',
        subjects: { user: { table: 'orders', column: 'customer_id', action: 'anonymize', anonymize: { name: 'redact' } } },
      }),
    ).toEqual(['subjects.user[0].anonymize: must rewrite the subject column "customer_id", or the row stays linked to the person']);
  });
});

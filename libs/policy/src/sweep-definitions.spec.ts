import { describe, expect, it } from 'vitest';
import { definePolicies } from './define-policies';
import { buildManifest } from './manifest';
import { policiesNotEnabled } from './sweep-definitions';

const policies = definePolicies({
  service: 'shop',
  subjects: {},
  rules: [
    { name: 'carts', table: 'carts', timestampColumn: 'created_at', retention: { days: 30 }, action: 'delete', legalBasis: 'contract' },
    { name: 'visits', table: 'visits', timestampColumn: 'seen_at', retention: { days: 90 }, action: 'delete', legalBasis: 'interest' },
  ],
});
const hash = (name: string) => buildManifest(policies, '1').policies.find((p) => p.name === name)!.definitionHash!;

describe('policiesNotEnabled', () => {
  it('checks nothing for a 1.0 sweep, which lists no definitions', () => {
    expect(policiesNotEnabled(policies, {})).toEqual([]);
  });

  it('passes when every policy the sweep runs is listed with its current definition', () => {
    const definitions = [
      { service: 'shop', policy: 'carts', definitionHash: hash('carts') },
      { service: 'shop', policy: 'visits', definitionHash: hash('visits') },
    ];
    expect(policiesNotEnabled(policies, { definitions })).toEqual([]);
  });

  it('names a policy that is not listed for this service, or listed with another definition', () => {
    const definitions = [
      { service: 'other', policy: 'visits', definitionHash: hash('visits') },
      { service: 'shop', policy: 'carts', definitionHash: 'a'.repeat(64) },
    ];
    expect(policiesNotEnabled(policies, { definitions })).toEqual(['carts', 'visits']);
  });

  it('looks only at the policy a one-policy sweep names', () => {
    expect(policiesNotEnabled(policies, { policy: 'carts', definitions: [{ service: 'shop', policy: 'carts', definitionHash: hash('carts') }] })).toEqual([]);
  });

  it('accepts a listed policy without a hash (the manifest gave none)', () => {
    expect(
      policiesNotEnabled(policies, {
        definitions: [
          { service: 'shop', policy: 'carts' },
          { service: 'shop', policy: 'visits' },
        ],
      }),
    ).toEqual([]);
  });
});

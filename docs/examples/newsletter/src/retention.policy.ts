import { definePolicies } from '@retention/policy';

export const policies = definePolicies({
  service: 'newsletter',
  subjects: {
    user: { table: 'subscribers', column: 'user_id', action: 'delete' },
  },
  rules: [
    {
      name: 'former_subscribers',
      table: 'subscribers',
      timestampColumn: 'unsubscribed_at',
      retention: { days: 30 },
      action: 'delete',
      conditions: [{ column: 'unsubscribed_at', op: 'is_not_null' }],
      legalBasis: 'Consent withdrawn: proof of the opt-out kept 30 days',
    },
  ],
});

import { definePolicies } from '@retention/policy';

/** What the analytics service keeps, for how long and why. Read by auditors: keep it plain. */
export const policies = definePolicies({
  service: 'analytics',
  subjects: {
    user: { table: 'analytics_events', column: 'user_id', action: 'delete' },
  },
  rules: [
    {
      name: 'product_events',
      table: 'analytics_events',
      timestampColumn: 'occurred_at',
      // 13 months, not 12: a year-over-year comparison of the same month needs both months whole.
      retention: { months: 13 },
      action: 'delete',
      legalBasis: 'Consent (product analytics): events kept 13 months for year-over-year comparison',
      batchSize: 5000,
    },
  ],
});

import { definePolicies } from '@retention/policy';

/** What the sessions service keeps, for how long and why. Read by auditors: keep it plain. */
export const policies = definePolicies({
  service: 'sessions',
  subjects: {
    user: { table: 'sessions', column: 'user_id', action: 'delete' },
  },
  rules: [
    {
      name: 'session_logs',
      table: 'sessions',
      timestampColumn: 'started_at',
      retention: { days: 90 },
      action: 'delete',
      legalBasis: 'Legitimate interest (account security): login history kept 90 days',
      batchSize: 5000,
    },
  ],
});

import { definePolicies } from '@retention/policy';

/** What the support service keeps, for how long and why. Read by auditors: keep it plain. */
export const policies = definePolicies({
  service: 'support',
  subjects: {
    user: { table: 'support_tickets', column: 'requester_id', action: 'delete' },
  },
  rules: [
    {
      name: 'resolved_tickets',
      table: 'support_tickets',
      timestampColumn: 'resolved_at',
      retention: { years: 2 },
      // Open and pending tickets are still being worked on, whatever their dates say.
      conditions: [{ column: 'status', op: 'eq', value: 'resolved' }],
      action: 'delete',
      legalBasis: 'Legitimate interest (customer support): resolved tickets kept 2 years for follow-up questions and complaints',
      batchSize: 5000,
    },
  ],
});

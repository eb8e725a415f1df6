import { definePolicies } from '@retention/policy';

/** What the orders service keeps, for how long and why. Read by auditors: keep it plain. */
export const policies = definePolicies({
  service: 'orders',
  subjects: {
    // Erasure cannot delete an order (tax law keeps it): it unlinks the person with the same
    // column rewrites as the 7-year rule, including customer_id itself.
    user: { table: 'orders', column: 'customer_id', action: 'anonymize' },
  },
  rules: [
    {
      name: 'purchase_records',
      table: 'orders',
      timestampColumn: 'created_at',
      retention: { years: 7 },
      action: 'anonymize',
      legalBasis: 'Legal obligation (tax records, 7 years)',
      anonymize: {
        customer_name: 'redact',
        email: 'email_mask',
        shipping_address: 'null',
        phone: 'null',
        // Keyed hash, not null: orders of one former customer still count as one customer.
        customer_id: 'hash',
      },
      markerColumn: 'anonymized_at',
      batchSize: 5000,
    },
  ],
});

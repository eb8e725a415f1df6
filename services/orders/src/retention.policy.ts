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
        // A random surrogate, not a keyed hash of the id (anyone with the key could re-identify the
        // person by trying ids): orders of one former customer rewritten together still group.
        customer_id: 'surrogate',
      },
      markerColumn: 'anonymized_at',
      batchSize: 5000,
    },
  ],
});

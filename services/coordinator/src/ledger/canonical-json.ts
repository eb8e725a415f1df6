/** JSON with object keys sorted at every level (the ledger's hashing lives in libs/contracts, for offline verifiers). */
export { canonicalJson } from '@retention/contracts';

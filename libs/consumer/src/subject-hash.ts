import { createHmac } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An integer an integer column accepts (the erasure's own check, libs/policy fitsColumn). */
const INTEGER = /^-?\d{1,18}$/;

/**
 * The key a service's deletion journal hashes subjects with: derived from RETENTION_HASH_KEY (or
 * RETENTION_JOURNAL_KEY) under its own label, so it is never the key of the `hash` anonymization.
 */
export function journalKeyFrom(secret: string): Buffer {
  return createHmac('sha256', secret).update('retention-deletion-journal-v1').digest();
}

/**
 * HMAC-SHA256 (hex) of `<type>:<id>`, the id in the form PostgreSQL returns it, so that the hash of an
 * id from a command equals the hash of the value read back from the column: a uuid in lowercase, an
 * integer without leading zeros or sign of zero (`0042` erases row 42 of an integer column, and a
 * probe reads back `42`). Both sides canonicalize by the id's shape, whatever the column: two text
 * ids that differ only so (`0042`, `42`) share a hash, which can make a probe report `found`
 * wrongly, never `clean` wrongly.
 */
export function subjectHash(key: Buffer, type: string, id: string): string {
  const canonical = UUID.test(id) ? id.toLowerCase() : INTEGER.test(id) ? BigInt(id).toString() : id;
  return createHmac('sha256', key).update(`${type}:${canonical}`, 'utf8').digest('hex');
}

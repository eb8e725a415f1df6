import { createHmac } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The key a service's deletion journal hashes subjects with: derived from RETENTION_HASH_KEY (or
 * RETENTION_JOURNAL_KEY) under its own label, so it is never the key of the `hash` anonymization.
 */
export function journalKeyFrom(secret: string): Buffer {
  return createHmac('sha256', secret).update('retention-deletion-journal-v1').digest();
}

/**
 * HMAC-SHA256 (hex) of `<type>:<id>`. A uuid is hashed in lowercase, the form PostgreSQL returns, so
 * the hash of an id from a command equals the hash of the value read back from a uuid column.
 */
export function subjectHash(key: Buffer, type: string, id: string): string {
  const canonical = UUID.test(id) ? id.toLowerCase() : id;
  return createHmac('sha256', key).update(`${type}:${canonical}`, 'utf8').digest('hex');
}

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from '@retention/contracts';

const PREFIX = 'sealed:v1:';

/**
 * The coordinator keeps a raw subject id only sealed (AES-256-GCM under a key derived from
 * RETENTION_SUBJECT_HMAC_KEY, bound to the row's scope and id), and only while it needs it to
 * (re)deliver a command or re-publish a hold. A database dump, a backup or a replica holds
 * ciphertext; the id is destroyed by clearing the column (see privacy-maintenance.ts).
 */
export interface SubjectVault {
  seal(scope: 'request' | 'hold' | 'approval' | 'webhook', rowId: string, subjectId: string): string;
  /** The id sealed in `stored`; a value written before ids were sealed is returned as it is. */
  open(scope: 'request' | 'hold' | 'approval' | 'webhook', rowId: string, stored: string | null): string | null;
}

export function createSubjectVault(hmacKey: string): SubjectVault {
  const key = deriveKey(hmacKey, 'retention-coordinator-subject-at-rest-v1');
  const aad = (scope: string, rowId: string): Buffer => Buffer.from(`${scope}:${rowId}`, 'utf8');
  return {
    seal(scope, rowId, subjectId) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(scope, rowId));
      const body = Buffer.concat([cipher.update(subjectId, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(scope, rowId, stored) {
      if (stored === null || !stored.startsWith(PREFIX)) return stored;
      const [iv, body] = stored.slice(PREFIX.length).split('.') as [string, string];
      const bytes = Buffer.from(body, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(scope, rowId));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}

/** Whether a stored value is sealed (rows written before sealing are sealed at start). */
export const isSealed = (stored: string): boolean => stored.startsWith(PREFIX);

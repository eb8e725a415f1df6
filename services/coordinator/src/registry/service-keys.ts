import { parsePublicKey, type RawMessage, SignatureError, type TrustedKey, type Verified, verifyMessage, type VerifyOptions } from '@retention/contracts';
import type { DataSource } from 'typeorm';
import { pinnedServiceKeys } from './registry.repository';

/** Reload pinned keys from the database at most this often when a key id is not known. */
const RELOAD_MIN_INTERVAL_MS = 1000;

/**
 * The keys the coordinator checks service messages with: those its configuration names
 * (`RETENTION_SERVICE_PUBLIC_KEYS`) and those pinned by an admin's approval of a registration. The
 * pinned ones are cached and reloaded when a message names a key id not in the cache, so an approval
 * made through another replica takes effect here on the next message.
 */
export function createServiceKeyring(deps: { dataSource: DataSource; configured: readonly TrustedKey[] }) {
  let pinned: TrustedKey[] = [];
  let loadedAt = 0;

  async function reload(): Promise<void> {
    loadedAt = Date.now();
    pinned = (await pinnedServiceKeys(deps.dataSource)).flatMap((k) => {
      try {
        return [{ keyId: k.keyId, publicKey: parsePublicKey(k.publicKey, 'signing_public_key'), owner: k.service }];
      } catch {
        return [];
      }
    });
  }

  const trusted = (keyId: string, service?: string): TrustedKey[] =>
    [...deps.configured, ...pinned].filter((k) => k.keyId === keyId && (service === undefined || k.owner === service));

  /** Verifies with the trusted keys, reloading the pinned ones once if the signer is not among them. */
  async function verifyTrusted(
    lookup: (keyId: string) => TrustedKey[],
    message: RawMessage,
    headers: Readonly<Record<string, string>>,
    options: VerifyOptions,
  ) {
    try {
      return verifyMessage(lookup, message, headers, options);
    } catch (error) {
      const retry =
        error instanceof SignatureError &&
        (error.code === 'unknown_signing_key' || error.code === 'signature_invalid') &&
        Date.now() - loadedAt > RELOAD_MIN_INTERVAL_MS;
      if (!retry) throw error;
      await reload();
      return verifyMessage(lookup, message, headers, options);
    }
  }

  return {
    reload,
    /** An ack (or anything else a service publishes) signed by a trusted key; the caller checks the owner. */
    verifyServiceMessage: (message: RawMessage, headers: Readonly<Record<string, string>>, options: VerifyOptions): Promise<Verified> =>
      verifyTrusted((keyId) => trusted(keyId), message, headers, options),

    /**
     * A registration (keyed by service name): signed by a key trusted for that service, or by the key
     * its manifest presents (self-asserted: proves only possession; approval decides). A tombstone
     * must be signed by a trusted key of the service.
     */
    verifyRegistration: (message: RawMessage, headers: Readonly<Record<string, string>>, options: VerifyOptions): Promise<Verified> => {
      const service = message.key;
      if (!service) throw new SignatureError('signer_mismatch', 'a registration must be keyed by its service name');
      const presented = presentedKey(message, service);
      return verifyTrusted((keyId) => [...trusted(keyId, service), ...(presented && presented.keyId === keyId ? [presented] : [])], message, headers, options);
    },

    /** Whether `key` (a manifest's presented key) is one the coordinator trusts for `service`. */
    isTrusted(service: string, key: { keyId: string; publicKey: string } | undefined): boolean {
      if (!key) return false;
      return trusted(key.keyId, service).some((k) => k.publicKey.export({ format: 'jwk' }).x === key.publicKey);
    },
  };
}

export type ServiceKeyring = ReturnType<typeof createServiceKeyring>;

/** The key a registration's manifest presents, when the manifest is for `service`. */
function presentedKey(message: RawMessage, service: string): TrustedKey | undefined {
  if (message.value === null) return undefined;
  try {
    const json = JSON.parse(typeof message.value === 'string' ? message.value : message.value.toString('utf8')) as {
      data?: { service?: unknown; signingKey?: { keyId?: unknown; publicKey?: unknown } };
    };
    const key = json.data?.signingKey;
    if (json.data?.service !== service || typeof key?.keyId !== 'string' || typeof key.publicKey !== 'string') return undefined;
    return { keyId: key.keyId, publicKey: parsePublicKey(key.publicKey, 'signingKey.publicKey'), owner: service };
  } catch {
    // Not JSON or not a key: the signature check reports it as unknown.
    return undefined;
  }
}

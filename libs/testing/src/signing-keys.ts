import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair, parsePrivateKey, type SigningKey } from '@retention/contracts';

export interface TestKey extends SigningKey {
  /** The private key as configuration text (RETENTION_SIGNING_KEY). */
  privateText: string;
  publicKey: string;
}

/** Signing keys for one test platform: the coordinator's and one per service. */
export interface TestKeys {
  coordinator: TestKey;
  /** The platform's key-encryption key of command keys (RETENTION_COMMAND_KEK, base64url). */
  commandKek: string;
  /** The key of `service`; made on first use. Only services named at creation are trusted by the coordinator's configuration. */
  service(service: string): TestKey;
  /** Environment of the coordinator: its key and the services it trusts without approval. */
  coordinatorEnv(): Record<string, string>;
  /** Environment of a service: its key and the coordinator's public key. */
  serviceEnv(service: string): Record<string, string>;
}

function makeKey(keyId: string): TestKey {
  const { privateKey, publicKey } = generateSigningKeyPair();
  return { keyId, privateKey: parsePrivateKey(privateKey, 'test key'), privateText: privateKey, publicKey };
}

/** Fresh keys for a test; `trusted` are the services the coordinator's configuration names. */
export function createTestKeys(trusted: readonly string[]): TestKeys {
  const coordinator = makeKey('coordinator-test-1');
  const commandKek = randomBytes(32).toString('base64url');
  const services = new Map<string, TestKey>(trusted.map((s) => [s, makeKey(`${s}-test-1`)]));
  const service = (name: string): TestKey => {
    let key = services.get(name);
    if (!key) services.set(name, (key = makeKey(`${name}-test-1`)));
    return key;
  };
  return {
    coordinator,
    commandKek,
    service,
    coordinatorEnv: () => ({
      RETENTION_SIGNING_KEY: coordinator.privateText,
      RETENTION_SIGNING_KEY_ID: coordinator.keyId,
      RETENTION_SERVICE_PUBLIC_KEYS: trusted.map((s) => `${s}:${service(s).keyId}=${service(s).publicKey}`).join(','),
      RETENTION_COMMAND_KEK: commandKek,
    }),
    serviceEnv: (name) => ({
      RETENTION_SIGNING_KEY: service(name).privateText,
      RETENTION_SIGNING_KEY_ID: service(name).keyId,
      RETENTION_COORDINATOR_PUBLIC_KEYS: `${coordinator.keyId}=${coordinator.publicKey}`,
      RETENTION_COMMAND_KEK: commandKek,
    }),
  };
}

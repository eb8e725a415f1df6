import { topicNames } from '@retention/contracts';
import { createPlatformAcls, deletePlatformAcls, ensureTopics, platformAcls, type PlatformAcl } from '@retention/kafka';
import { type KafkaLogin, type SecuredTestStack, securedTestStack, uniqueSuffix, uniqueTopicPrefix } from '@retention/testing';
import { Kafka, logLevel } from 'kafkajs';
import type { PlatformOptions } from './support';

/** A test's own namespace on the secured broker: topics and ACLs made for its prefix by `admin`. */
export interface SecuredPlatform {
  stack: SecuredTestStack;
  /** RETENTION_TOPIC_PREFIX of the test (pass `options` to startPlatform, which uses it). */
  prefix: string;
  acls: readonly PlatformAcl[];
  /**
   * startPlatform options that start every process as its own principal (KAFKA_BROKERS of the
   * secured broker, SCRAM user = process name, password from its file). Merge a test's own
   * `coordinatorEnv`/`serviceEnv` in with {@link SecuredPlatform.platformOptions}.
   */
  options: PlatformOptions;
  platformOptions(extra?: PlatformOptions): PlatformOptions;
  /** The environment of one process logged in as `principal`. */
  kafkaEnv(principal: string): Record<string, string>;
  /** A kafkajs client as `principal` (`admin` is a super user), or without credentials (`null`). */
  client(principal: string | null, options?: { password?: string }): Kafka;
  /** Deletes the test's ACLs, topics and consumer groups (after the platform has stopped). */
  cleanup(): Promise<void>;
}

/**
 * Prepares the secured broker for a platform of `services` (each must have a principal there:
 * coordinator, orders, sessions, analytics, support, ml-data): a unique topic prefix, its topics
 * created by `admin` (the processes may not create topics), and the ACLs of docs/security.md for
 * that prefix. The processes' own `ensureTopics` then only describes them.
 */
export async function prepareSecuredPlatform(services: readonly string[]): Promise<SecuredPlatform> {
  const stack = await securedTestStack();
  for (const name of ['coordinator', ...services]) {
    if (!stack.principals[name]) throw new Error(`the secured broker has no principal "${name}" (it has ${Object.keys(stack.principals).join(', ')})`);
  }
  const prefix = uniqueTopicPrefix();
  const acls = platformAcls({ prefix, services });
  const login = (principal: string): KafkaLogin => (principal === 'admin' ? stack.admin : stack.principals[principal]!);

  const client: SecuredPlatform['client'] = (principal, options = {}) =>
    new Kafka({
      clientId: `e2e-${principal ?? 'anonymous'}-${uniqueSuffix()}`,
      brokers: stack.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      // A refused login is final: no need for kafkajs to try it eight times.
      retry: { retries: 1, initialRetryTime: 100 },
      ...(principal === null ? {} : { sasl: { mechanism: stack.mechanism, username: principal, password: options.password ?? login(principal).password } }),
    });

  const admin = client('admin').admin();
  await admin.connect();
  try {
    await ensureTopics(client('admin'), topicNames(prefix));
    await createPlatformAcls(admin, acls);
  } finally {
    await admin.disconnect();
  }

  const kafkaEnv = (principal: string): Record<string, string> => ({
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    KAFKA_SASL_MECHANISM: stack.mechanism,
    KAFKA_SASL_USERNAME: principal,
    KAFKA_SASL_PASSWORD_FILE: login(principal).passwordFile,
  });
  const platformOptions = (extra: PlatformOptions = {}): PlatformOptions => ({
    ...extra,
    prefix,
    coordinatorEnv: { ...extra.coordinatorEnv, ...kafkaEnv('coordinator') },
    serviceEnv: Object.fromEntries(services.map((s) => [s, { ...extra.serviceEnv?.[s], ...kafkaEnv(s) }])),
  });

  return {
    stack,
    prefix,
    acls,
    options: platformOptions(),
    platformOptions,
    kafkaEnv,
    client,
    async cleanup() {
      const a = client('admin').admin();
      await a.connect();
      try {
        await deletePlatformAcls(a, acls);
        await a.deleteTopics({ topics: Object.values(topicNames(prefix)) });
        const groups = (await a.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
        if (groups.length > 0) await a.deleteGroups(groups);
      } finally {
        await a.disconnect();
      }
    },
  };
}

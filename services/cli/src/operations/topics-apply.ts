import { boolFlag, commonEnv, KafkaClientEnv, kafkaSecurityRules, loadConfig } from '@retention/config';
import { topicNames } from '@retention/contracts';
import { createKafka, createPlatformAcls, ensureTopics, kafkaSecurityFromConfig, platformAcls, SCALABLE_TOPICS, topicPartitions } from '@retention/kafka';
import { createLogger } from '@retention/observability';
import { z } from 'zod';
import { UsageError } from './usage-error';

const list = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);

/** The environment of `retention topics apply`: the Kafka keys of an admin principal, the topic settings, the ACL inputs. */
export const TopicsApplyEnv = z
  .object({
    ...KafkaClientEnv.shape,
    RETENTION_TOPIC_PREFIX: commonEnv.RETENTION_TOPIC_PREFIX,
    RETENTION_TOPIC_PARTITIONS: commonEnv.RETENTION_TOPIC_PARTITIONS,
    RETENTION_TOPIC_REPLICATION_FACTOR: commonEnv.RETENTION_TOPIC_REPLICATION_FACTOR,
    LOG_LEVEL: commonEnv.LOG_LEVEL.default('warn'),
    SETUP_SERVICES: z.string().transform(list).optional(),
    SETUP_ACLS: boolFlag.optional(),
    SETUP_COORDINATOR_PRINCIPAL: z.string().min(1).default('coordinator'),
    SETUP_AUDITOR_PRINCIPALS: z.string().default('auditor').transform(list),
  })
  .check(kafkaSecurityRules);

export interface TopicsApplyOptions {
  services?: string[];
  acls?: boolean;
}

export interface TopicsApplyResult {
  prefix: string;
  created: string[];
  /** Every platform topic with its partition count as the brokers report it. */
  topics: Record<string, number>;
  acls: number;
  /** Topics that exist with fewer partitions than RETENTION_TOPIC_PARTITIONS asks for (never altered here). */
  warnings: string[];
}

/**
 * Creates the platform's missing topics (partitions, replication and configs from the
 * environment and @retention/contracts) and, with SASL or when asked, every principal's ACLs.
 * Idempotent: what exists is kept; an existing topic is never altered (adding partitions moves
 * keys: docs/deploy.md, "Scaling"), only reported.
 */
export async function topicsApply(env: NodeJS.ProcessEnv, options: TopicsApplyOptions): Promise<TopicsApplyResult> {
  const config = loadConfig(TopicsApplyEnv, env);
  const logger = createLogger({ service: 'retention-topics', level: config.LOG_LEVEL, destination: process.stderr });
  const services = options.services ?? config.SETUP_SERVICES ?? [];
  const withAcls = options.acls ?? config.SETUP_ACLS ?? config.KAFKA_SASL_MECHANISM !== undefined;
  if (withAcls && services.length === 0) throw new UsageError('the ACLs name every service: give --services (or SETUP_SERVICES)');
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? 'retention-topics-apply',
    logger,
    security: kafkaSecurityFromConfig(config),
  });
  const prefix = config.RETENTION_TOPIC_PREFIX;
  const names = topicNames(prefix);
  const report = await ensureTopics(kafka, names, undefined, {
    partitions: config.RETENTION_TOPIC_PARTITIONS,
    replicationFactor: config.RETENTION_TOPIC_REPLICATION_FACTOR,
  });
  const warnings = SCALABLE_TOPICS.filter((k) => (report.partitions[names[k]] ?? 0) < topicPartitions(k, config.RETENTION_TOPIC_PARTITIONS)).map(
    (k) =>
      `${names[k]} has ${report.partitions[names[k]]} partitions, RETENTION_TOPIC_PARTITIONS asks for ${config.RETENTION_TOPIC_PARTITIONS}: ` +
      'existing topics are not altered (adding partitions moves keys; see docs/deploy.md, "Scaling")',
  );
  let acls = 0;
  if (withAcls) {
    const wanted = platformAcls({ prefix, services, coordinator: config.SETUP_COORDINATOR_PRINCIPAL, auditors: config.SETUP_AUDITOR_PRINCIPALS });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createPlatformAcls(admin, wanted);
    } finally {
      await admin.disconnect();
    }
    acls = wanted.length;
  }
  return { prefix, created: report.created, topics: report.partitions, acls, warnings };
}

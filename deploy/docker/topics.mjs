// `entrypoint.sh topics`: creates the platform's topics (partitions and configs from
// @retention/contracts; replication factor = the brokers' default.replication.factor, so set it to
// 3 and min.insync.replicas to 2 on the cluster) and, with SASL, the ACLs of every principal
// (docs/security.md). Run it as a principal that may create topics and ACLs (a super user), once
// per install and upgrade, before the processes start: they then need no CreateTopics rights.
// Idempotent: what exists is kept.
// Env: KAFKA_BROKERS and the KAFKA_SSL_* / KAFKA_SASL_* settings of that principal,
// RETENTION_TOPIC_PREFIX, SETUP_SERVICES (the domain services, comma or space separated),
// SETUP_ACLS (`true`: create the ACLs; default true when KAFKA_SASL_MECHANISM is set),
// SETUP_COORDINATOR_PRINCIPAL (default `coordinator`), SETUP_AUDITOR_PRINCIPALS (default `auditor`).
import { boolFlag, KafkaClientEnv, loadConfig } from '@retention/config';
import { topicNames } from '@retention/contracts';
import { createKafka, createPlatformAcls, ensureTopics, kafkaSecurityFromConfig, platformAcls } from '@retention/kafka';
import { createLogger, runMain } from '@retention/observability';
import { z } from 'zod';

const logger = createLogger({ service: 'topics-setup', level: process.env.LOG_LEVEL || 'info' });
const list = (s) => s.split(/[\s,]+/).filter(Boolean);

const SetupEnv = z.object({
  RETENTION_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/)
    .default(''),
  SETUP_SERVICES: z.string().min(1).transform(list),
  SETUP_ACLS: boolFlag.optional(),
  SETUP_COORDINATOR_PRINCIPAL: z.string().min(1).default('coordinator'),
  SETUP_AUDITOR_PRINCIPALS: z.string().default('auditor').transform(list),
});

await runMain(logger, async () => {
  const kafkaConfig = loadConfig(KafkaClientEnv);
  const setup = loadConfig(SetupEnv);
  const kafka = createKafka({
    brokers: kafkaConfig.KAFKA_BROKERS,
    clientId: kafkaConfig.KAFKA_CLIENT_ID ?? 'retention-topics-setup',
    logger,
    security: kafkaSecurityFromConfig(kafkaConfig),
  });
  const prefix = setup.RETENTION_TOPIC_PREFIX;
  await ensureTopics(kafka, topicNames(prefix));
  const withAcls = setup.SETUP_ACLS ?? kafkaConfig.KAFKA_SASL_MECHANISM !== undefined;
  let aclCount = 0;
  if (withAcls) {
    const acls = platformAcls({
      prefix,
      services: setup.SETUP_SERVICES,
      coordinator: setup.SETUP_COORDINATOR_PRINCIPAL,
      auditors: setup.SETUP_AUDITOR_PRINCIPALS,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createPlatformAcls(admin, acls);
    } finally {
      await admin.disconnect();
    }
    aclCount = acls.length;
  }
  logger.info({ prefix, services: setup.SETUP_SERVICES, acls: aclCount }, 'topics (and ACLs) in place');
  return { stop: async () => undefined };
});

// Run by up.sh on the secured broker (RETENTION_KAFKA_SECURITY=sasl), after it is ready: creates
// the platform's topics and the ACLs of every principal, logged in as `admin` (a super user).
// The processes themselves may not create topics or ACLs. Idempotent: what exists is kept.
// Env: KAFKA_BROKERS, SETUP_ADMIN_PASSWORD_FILE, SETUP_SERVICES (space-separated), and
// RETENTION_TOPIC_PREFIX (topic names and group ids start with it; default none).
import { readFileSync } from 'node:fs';
import { topicNames } from '@retention/contracts';
import { createPlatformAcls, ensureTopics, platformAcls } from '@retention/kafka';
import { Kafka, logLevel } from 'kafkajs';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const prefix = process.env.RETENTION_TOPIC_PREFIX ?? '';
const services = need('SETUP_SERVICES').split(/\s+/).filter(Boolean);
const password = readFileSync(need('SETUP_ADMIN_PASSWORD_FILE'), 'utf8').replace(/\r?\n$/, '');
const kafka = new Kafka({
  clientId: 'retention-local-setup',
  brokers: need('KAFKA_BROKERS').split(','),
  sasl: { mechanism: 'scram-sha-512', username: 'admin', password },
  logLevel: logLevel.WARN,
  retry: { initialRetryTime: 200, retries: 8 },
});

await ensureTopics(kafka, topicNames(prefix));
const acls = platformAcls({ prefix, services });
const admin = kafka.admin();
await admin.connect();
try {
  await createPlatformAcls(admin, acls);
} finally {
  await admin.disconnect();
}
process.stderr.write(`[stack] kafka: topics "${prefix}data.retention*" and ${acls.length} ACLs for coordinator, ${services.join(', ')} in place\n`);

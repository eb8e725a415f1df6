import type { Logger } from '@retention/observability';
import { Kafka, logLevel, type KafkaConfig, type logCreator } from 'kafkajs';
import type { KafkaSecurity } from './security';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** TLS and SASL settings, from `kafkaSecurityFromConfig(config)`; none = PLAINTEXT without credentials. */
  security?: KafkaSecurity;
  /** Extra kafkajs settings. */
  overrides?: Partial<KafkaConfig>;
}

/** A kafkajs client whose own log lines go through the service's structured logger, secured as `security` says. */
export function createKafka(options: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(options.logger),
    retry: { initialRetryTime: 200, retries: 8 },
    ...(options.security?.ssl ? { ssl: options.security.ssl } : {}),
    ...(options.security?.sasl ? { sasl: options.security.sasl } : {}),
    ...options.overrides,
  });
}

const IDEMPOTENT_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

function kafkaLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      // Our producers are idempotent with a bounded retry count on purpose: a send that keeps
      // failing must come back to the outbox relay (backoff, failure metric, parking), and a
      // renewed producer starts new sequence numbers; consumers apply a command once whatever
      // arrives twice. kafkajs warns about this on every producer; it is a decision, not a fault.
      if (message === IDEMPOTENT_RETRIES_WARNING) return;
      // kafkajs includes broker addresses, topics and error text here; never message payloads.
      const fields = { namespace: extra.namespace, error: extra.error, groupId: extra.groupId, topic: extra.topic, broker: extra.broker };
      switch (level) {
        case logLevel.ERROR:
        case logLevel.NOTHING:
          child.error(fields, message);
          break;
        case logLevel.WARN:
          child.warn(fields, message);
          break;
        case logLevel.INFO:
          child.info(fields, message);
          break;
        case logLevel.DEBUG:
          child.debug(fields, message);
      }
    };
}

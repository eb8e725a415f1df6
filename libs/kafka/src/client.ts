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

function kafkaLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
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

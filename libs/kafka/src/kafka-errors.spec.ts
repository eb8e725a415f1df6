import { createRequire } from 'node:module';
import { errorCode, isRetriable, isUnreachable, retryReason } from '@retention/contracts';
import {
  KafkaJSBrokerNotFound,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';

// kafkajs's own table of protocol errors (code → type, message, retriable), as its client builds them.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): { type: string; code: number; retriable: boolean; message: string };
};
const protocolError = (code: number): KafkaJSProtocolError => new KafkaJSProtocolError(createErrorFromCode(code) as unknown as Error);
/** What kafkajs's retrier throws when it gives up on a retriable error. */
const gaveUp = (cause: Error): KafkaJSNumberOfRetriesExceeded => new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 8, retryTime: 1000, cause } as never);

// kafkajs 2.2.4 wraps with `new KafkaJSNonRetriableError(error, { cause })`; its typings omit the second argument.
const nonRetriable = (error: Error): Error =>
  new (KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error)(error, { cause: error });

/** The retriable list against real kafkajs 2.2.4 error classes. */
describe('kafkajs errors in the retriable list', () => {
  it('broker unreachable: connection errors, request timeouts, no broker, also after kafkajs gave up retrying', () => {
    for (const error of [
      new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1', { broker: '127.0.0.1:1', code: 'ECONNREFUSED' } as never),
      new KafkaJSConnectionError('Closed connection', { broker: 'b:9092' }),
      new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out' as never),
      new (KafkaJSBrokerNotFound as unknown as new (message: string) => Error)('Broker not found in the cluster'),
      gaveUp(new KafkaJSConnectionError('Connection error', { broker: 'b:9092' })),
    ]) {
      expect(isRetriable(error), error.message).toBe(true);
      expect(isUnreachable(error), error.message).toBe(true);
    }
  });

  it('broker not available (which kafkajs itself does not retry), leader not available, not enough replicas', () => {
    const brokerNotAvailable = protocolError(8);
    expect(brokerNotAvailable).toMatchObject({ type: 'BROKER_NOT_AVAILABLE', retriable: false });
    expect(retryReason(brokerNotAvailable)).toBe('broker_unavailable');
    expect(retryReason(nonRetriable(brokerNotAvailable))).toBe('broker_unavailable');
    expect(retryReason(protocolError(5))).toBe('broker_unavailable'); // LEADER_NOT_AVAILABLE
    expect(retryReason(protocolError(19))).toBe('broker_unavailable'); // NOT_ENOUGH_REPLICAS
    expect(retryReason(gaveUp(protocolError(6)))).toBe('broker_unavailable'); // NOT_LEADER_FOR_PARTITION
  });

  it('other errors kafkajs marks retriable are retriable, but not "unreachable": they may be about the message or topic', () => {
    const unknownTopic = gaveUp(protocolError(3));
    expect(retryReason(unknownTopic)).toBe('broker_retriable');
    expect(isUnreachable(unknownTopic)).toBe(false);
    expect(errorCode(unknownTopic)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('message too large, topic authorization failed, invalid record: not retriable, with the protocol type as the code', () => {
    for (const [code, type] of [
      [10, 'MESSAGE_TOO_LARGE'],
      [29, 'TOPIC_AUTHORIZATION_FAILED'],
      [87, 'INVALID_RECORD'],
    ] as const) {
      const error = protocolError(code);
      expect(isRetriable(error), type).toBe(false);
      expect(errorCode(error)).toBe(type);
      expect(errorCode(nonRetriable(error))).toBe(type);
    }
  });
});

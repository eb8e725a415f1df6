import {
  type AnyEnvelope,
  decodeEvent,
  errorSummary,
  EventTypes,
  type EventType,
  Headers,
  isRetriable,
  encodeEvent,
  type RawMessage,
  RetentionError,
  type Verified,
} from '@retention/contracts';
import { contextFromHeaders, inSpan, type Logger, SpanKind } from '@retention/observability';
import type { Context } from '@opentelemetry/api';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { type DeadLetterCounter, deadLetterReasonLabel } from './dead-letter.metric';
import { deadLetterRefs } from './dead-letter-refs';
import { headersToRecord } from './headers';
import type { Publisher } from './producer';

export interface MessageContext {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  /** The trace context carried by the message's `traceparent` header. */
  trace: Context;
  /** Keeps the group membership alive during long work (kafkajs has no background heartbeat). */
  heartbeat: () => Promise<void>;
  /** Aborted when the consumer is stopping: long work should stop at its next safe point. */
  signal: AbortSignal;
  /** Who signed the message, when the consumer verifies signatures (see `verify`). */
  signer?: Verified;
  /**
   * Writes this message to the dead-letter topic with `reason` (a stable code, never data) although
   * its handler processed it: for a message that parses but is wrong (e.g. an ack for an unknown
   * request). Counted like every dead letter; the offset is still committed as handled.
   */
  deadLetter: (reason: { code: string; message: string }) => Promise<void>;
}

export interface ConsumerOptions<T extends EventType> {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  /** Event types this consumer handles; anything else is dead-lettered. */
  accept: readonly T[];
  handle: (event: Extract<AnyEnvelope, { type: T }>, ctx: MessageContext) => Promise<void>;
  /** Called for a message with a null value (a tombstone on a compacted topic). Without it, tombstones are dead-lettered. */
  onTombstone?: (ctx: MessageContext) => Promise<void>;
  /** Where refused messages go; `counter` (see `createDeadLetterCounter`) counts them by consumer and reason. */
  deadLetters: { topic: string; publisher: Publisher; counter?: DeadLetterCounter };
  /** Name recorded on dead letters, e.g. `sessions` or `coordinator.acks`. */
  name: string;
  logger: Logger;
  /** Backoff for retriable failures: starts at `initialMs`, doubles up to `maxMs`, retries until stopped. */
  retry?: { initialMs?: number; maxMs?: number };
  partitionsConsumedConcurrently?: number;
  /** A member that sends no heartbeat for this long is removed from the group (default 30 s). */
  sessionTimeoutMs?: number;
  /**
   * Optional: handles a run of consecutive valid messages of one partition together (e.g. in one
   * database transaction), at most `maxBatchSize` at a time. Retriable failures are retried like
   * `handle`'s; on any other failure the run is handled again message by message with `handle`,
   * so only a bad message is dead-lettered. No span is opened for the run: give each message its
   * own (its `ctx.trace` carries the producer's context).
   */
  handleBatch?: (items: ReadonlyArray<{ event: Extract<AnyEnvelope, { type: T }>; ctx: MessageContext }>) => Promise<void>;
  /** Largest run given to `handleBatch` (default 200). */
  maxBatchSize?: number;
  /**
   * Authenticates every message (tombstones included) before it is decoded: returns who signed it,
   * or throws (a `SignatureError`, or any non-retriable RetentionError), and the message is
   * dead-lettered with that error's code. A retriable error (a key lookup that failed) is retried.
   */
  verify?: (message: RawMessage, headers: Readonly<Record<string, string>>) => Verified | Promise<Verified>;
  /** Called after every message whose processing finished (handled or dead-lettered). */
  onProcessed?: (ctx: MessageContext, outcome: 'handled' | 'dead_lettered') => void;
}

export interface RunningConsumer {
  consumer: Consumer;
  stop(): Promise<void>;
}

class ConsumerStoppingError extends RetentionError {
  readonly code = 'consumer_stopping';
  readonly retriable = true;
}

/**
 * Runs a consumer group member. Each message is decoded and validated; a message that does not
 * parse, or whose handler fails with a non-retriable error, goes to the dead-letter topic with the
 * reason and the consumer moves on. Retriable failures are retried in place with backoff (the
 * offset is not committed meanwhile), so nothing is skipped. An offset is committed only after
 * its message was handled or dead-lettered.
 */
export async function runConsumer<T extends EventType>(options: ConsumerOptions<T>): Promise<RunningConsumer> {
  const { kafka, logger } = options;
  const log = logger.child({ component: 'consumer', consumer: options.name });
  const initialMs = options.retry?.initialMs ?? 250;
  const maxMs = options.retry?.maxMs ?? 10_000;
  const abort = new AbortController();

  const consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: 3_000,
  });
  await consumer.connect();
  for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (abort.signal.aborted) return reject(new ConsumerStoppingError('consumer is stopping'));
      const timer = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new ConsumerStoppingError('consumer is stopping'));
      };
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  /** Runs `work` until it succeeds or fails with a non-retriable error (which it rethrows). */
  async function retrying(work: () => Promise<void>, ctx: MessageContext, heartbeat: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        return;
      } catch (error) {
        if (!isRetriable(error) || error instanceof ConsumerStoppingError) throw error;
        const delay = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
        log.warn(
          { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset, attempt, delayMs: delay, err: errorSummary(error) },
          'retriable failure, retrying',
        );
        await sleep(delay);
        await heartbeat().catch(() => undefined);
      }
    }
  }

  async function deadLetter(message: KafkaMessage, ctx: MessageContext, reason: { code: string; message: string }): Promise<void> {
    // Metadata only, never the bytes: see deadLetterRefs.
    const { value } = encodeEvent(
      EventTypes.deadLetter,
      {
        consumer: options.name,
        reason,
        topic: ctx.topic,
        partition: ctx.partition,
        offset: ctx.offset,
        payload: null,
        ...deadLetterRefs(message.value),
        failedAt: new Date().toISOString(),
      },
      { source: `/retention/${options.name}` },
    );
    await options.deadLetters.publisher.publish([
      { topic: options.deadLetters.topic, key: ctx.key, value, headers: { ...pickTrace(ctx.headers), [Headers.dlqReason]: reason.code } },
    ]);
    options.deadLetters.counter?.inc({ consumer: options.name, reason: deadLetterReasonLabel(reason.code) });
    log.warn({ topic: ctx.topic, partition: ctx.partition, offset: ctx.offset, reason: reason.code, detail: reason.message }, 'message dead-lettered');
  }

  function messageContext(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): MessageContext {
    const headers = headersToRecord(message.headers);
    const ctx: MessageContext = {
      topic,
      partition,
      offset: message.offset,
      key: message.key ? message.key.toString('utf8') : null,
      headers,
      trace: contextFromHeaders(headers),
      heartbeat,
      signal: abort.signal,
      deadLetter: (reason) => retrying(() => deadLetter(message, ctx, reason), ctx, heartbeat),
    };
    return ctx;
  }

  /** Runs `verify`: sets `ctx.signer`, or returns why the message is refused. */
  async function authenticate(message: KafkaMessage, ctx: MessageContext): Promise<{ code: string; message: string } | undefined> {
    const verify = options.verify;
    if (!verify) return undefined;
    let refused: { code: string; message: string } | undefined;
    await retrying(
      async () => {
        try {
          ctx.signer = await verify({ topic: ctx.topic, key: ctx.key, value: message.value }, ctx.headers);
        } catch (error) {
          // Retriable (a key lookup whose database is down): retried in place. Anything else refuses the
          // message, so an error no retry can fix never stalls the partition.
          if (isRetriable(error)) throw error;
          refused = error instanceof RetentionError ? { code: error.code, message: error.message } : { code: 'verify_failed', message: errorSummary(error) };
        }
      },
      ctx,
      ctx.heartbeat,
    );
    return refused;
  }

  /** Handles or dead-letters one message; returns when its offset may be committed. */
  async function processMessage(message: KafkaMessage, ctx: MessageContext): Promise<void> {
    let outcome: 'handled' | 'dead_lettered' = 'handled';
    const refused = await authenticate(message, ctx);
    if (refused) {
      await retrying(() => deadLetter(message, ctx, refused), ctx, ctx.heartbeat);
      options.onProcessed?.(ctx, 'dead_lettered');
      return;
    }
    if (message.value === null) {
      if (options.onTombstone) {
        const onTombstone = options.onTombstone;
        try {
          await retrying(() => onTombstone(ctx), ctx, ctx.heartbeat);
        } catch (error) {
          // As for a message a handler cannot apply: dead-lettered with the reason, the partition moves on.
          if (error instanceof ConsumerStoppingError) throw error;
          const reason =
            error instanceof RetentionError ? { code: error.code, message: error.message } : { code: 'handler_failed', message: errorSummary(error) };
          await retrying(() => deadLetter(message, ctx, reason), ctx, ctx.heartbeat);
          outcome = 'dead_lettered';
        }
      } else {
        await retrying(() => deadLetter(message, ctx, { code: 'validation_failed', message: 'message has no value' }), ctx, ctx.heartbeat);
        outcome = 'dead_lettered';
      }
      options.onProcessed?.(ctx, outcome);
      return;
    }
    const decoded = decodeEvent(message.value, options.accept);
    if (!decoded.ok) {
      await retrying(() => deadLetter(message, ctx, { code: decoded.error.code, message: decoded.error.message }), ctx, ctx.heartbeat);
      options.onProcessed?.(ctx, 'dead_lettered');
      return;
    }
    const event = decoded.event as unknown as Extract<AnyEnvelope, { type: T }>;
    try {
      await inSpan(
        `${ctx.topic} process`,
        {
          kind: SpanKind.CONSUMER,
          parent: ctx.trace,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': ctx.topic,
            'messaging.kafka.consumer.group': options.groupId,
            'retention.event_type': event.type,
          },
        },
        () => retrying(() => options.handle(event, ctx), ctx, ctx.heartbeat),
      );
    } catch (error) {
      if (error instanceof ConsumerStoppingError) throw error;
      const reason = error instanceof RetentionError ? { code: error.code, message: error.message } : { code: 'handler_failed', message: errorSummary(error) };
      await retrying(() => deadLetter(message, ctx, reason), ctx, ctx.heartbeat);
      outcome = 'dead_lettered';
    }
    options.onProcessed?.(ctx, outcome);
  }

  const handleBatch = options.handleBatch;
  if (!handleBatch) {
    await consumer.run({
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachMessage: ({ topic, partition, message, heartbeat }) => processMessage(message, messageContext(topic, partition, message, heartbeat)),
    });
  } else {
    const maxBatchSize = options.maxBatchSize ?? 200;
    type Item = { message: KafkaMessage; event: Extract<AnyEnvelope, { type: T }>; ctx: MessageContext };
    await consumer.run({
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let run: Item[] = [];
        const flush = async (): Promise<void> => {
          if (run.length === 0) return;
          const items = run;
          run = [];
          try {
            await retrying(() => handleBatch(items.map(({ event, ctx }) => ({ event, ctx }))), items[0]!.ctx, heartbeat);
            for (const { ctx } of items) {
              resolveOffset(ctx.offset);
              options.onProcessed?.(ctx, 'handled');
            }
          } catch (error) {
            if (error instanceof ConsumerStoppingError) throw error;
            log.warn(
              { topic: batch.topic, partition: batch.partition, messages: items.length, err: errorSummary(error) },
              'batch failed; handling its messages one by one',
            );
            for (const { message, ctx } of items) {
              await processMessage(message, ctx);
              resolveOffset(ctx.offset);
            }
          }
          await heartbeat().catch(() => undefined);
        };
        for (const message of batch.messages) {
          // Stopping or rebalanced: what is not resolved is consumed again, by this member or another.
          if (!isRunning() || isStale()) return;
          const ctx = messageContext(batch.topic, batch.partition, message, heartbeat);
          const authentic = options.verify ? (await authenticate(message, ctx)) === undefined : true;
          const decoded = message.value === null || !authentic ? null : decodeEvent(message.value, options.accept);
          if (decoded?.ok) {
            run.push({ message, event: decoded.event as unknown as Extract<AnyEnvelope, { type: T }>, ctx });
            if (run.length >= maxBatchSize) await flush();
            continue;
          }
          // Keep offsets in order: the run before this message is settled first.
          await flush();
          await processMessage(message, ctx);
          resolveOffset(message.offset);
        }
        if (isRunning() && !isStale()) await flush();
      },
    });
  }

  return {
    consumer,
    async stop() {
      abort.abort();
      await consumer.disconnect();
    },
  };
}

function pickTrace(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [Headers.traceparent, Headers.tracestate]) {
    const value = headers[name];
    if (value) out[name] = value;
  }
  return out;
}

/** @deprecated Moved to `@retention/contracts` with the error types; re-exported so imports keep working. */
export { errorSummary };

/** Kafka header names. `traceparent`/`tracestate` follow W3C Trace Context. */
export const Headers = {
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Set on dead letters: the code of the reason the message was rejected. */
  dlqReason: 'x-retention-dlq-reason',
} as const;

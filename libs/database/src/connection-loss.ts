import { markConnectionLost } from '@retention/contracts';

interface PgClientEvents {
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * pg-pool's `onConnect` hook: marks every error a pg client reports on its `error` event as a
 * lost connection. pg emits that event only for connection-level failures, and fails the queries
 * in flight with the same error object; "Connection terminated unexpectedly" (the server or a
 * proxy closed the socket without an error message) has no code of its own, so this mark is how
 * `retryReason` in libs/contracts tells it from a bug without reading message text.
 */
export function watchConnectionLoss(client: PgClientEvents): void {
  client.on('error', markConnectionLost);
}

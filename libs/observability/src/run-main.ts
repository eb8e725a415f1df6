import type { Logger } from 'pino';

/**
 * The shared `main()` of every process: start it, stop it gracefully on SIGTERM/SIGINT, and on a
 * start failure log one fatal line (every invalid key, for a configuration error) and exit 1.
 */
export async function runMain(logger: Logger, start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  try {
    const running = await start();
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (error) {
    const e = error as { code?: unknown; issues?: unknown; name?: string; message?: string };
    if (Array.isArray(e?.issues)) logger.fatal({ code: e.code, issues: e.issues }, e.message);
    else logger.fatal({ err: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 'failed to start');
    process.exit(1);
  }
}

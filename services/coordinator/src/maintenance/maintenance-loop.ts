import type { Logger } from '@retention/observability';
import { errorSummary } from '@retention/kafka';
import type { LeaderLock } from './leader-lock';

/**
 * Runs `tick` every `intervalMs` on the leader replica only. A failing tick is logged and tried
 * again at the next interval; `stop()` waits for the tick in flight.
 */
export class MaintenanceLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly leader: LeaderLock,
    private readonly tick: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Runs one tick now (tests; and after a request is created, to shorten nothing else). */
  async runOnce(): Promise<boolean> {
    if (!(await this.leader.ensure())) return false;
    await this.tick();
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.leader.release();
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error({ component: 'maintenance', err: errorSummary(error) }, 'maintenance tick failed'))
        .finally(() => this.schedule(this.intervalMs));
    }, delay);
  }
}

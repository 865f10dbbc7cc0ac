import type { Logger } from 'pino';
import { sqlState } from './sql-state.ts';

export type WorkerTask = { name: string; everyMs: number; run: () => Promise<unknown> };

/**
 * Runs the scheduling background tasks (reminder outbox, dispatch expiry, licence notices) on a
 * timer. Safe on every node at once: each task claims its work in the database. stop() waits for
 * the pass in progress, so node shutdown never cuts a send in half on purpose (a kill still can:
 * that is what the outbox lease is for).
 */
export class SchedulingWorker {
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = false;
  readonly #lastRun = new Map<string, number>();

  constructor(
    private readonly tasks: readonly WorkerTask[],
    private readonly opts: { tickMs: number; logger: Logger },
  ) {}

  start() {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass;
  }

  /** One pass over the tasks that are due; exposed for tests. */
  async runDue(now = Date.now()) {
    for (const task of this.tasks) {
      if (now - (this.#lastRun.get(task.name) ?? -Infinity) < task.everyMs) continue;
      this.#lastRun.set(task.name, now);
      try {
        await task.run();
      } catch (err) {
        // Error messages from the driver can quote query parameters (recipients): log the code only.
        this.opts.logger.error(
          { task: task.name, error: (err as Error).name, sqlState: sqlState(err) },
          'scheduling task failed',
        );
      }
    }
  }

  #schedule(delay: number) {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.runDue().finally(() => {
        this.#pass = undefined;
        this.#schedule(this.opts.tickMs);
      });
    }, delay);
    this.#timer.unref();
  }
}

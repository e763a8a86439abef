/**
 * What every polling relay (the event outbox, the mail jobs) needs around its loop: a pause that a commit can cut
 * short, and a record of the current run of failures that says so in the log without flooding it (a warning at
 * the first failure, an error once the run has lasted `alarmAfterMs`, debug lines between, an info line when it
 * works again) and sets the backoff of the next try.
 */
import type { Logger } from '../logger.ts';

/** A pause between two passes of a loop; `wake()` ends the current one (or the next one at once). */
export class Pause {
  #wake: (() => void) | undefined;

  for(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Until `wake()`, however long. */
  untilWoken(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}

export interface FailureStreakOptions {
  logger: Logger;
  /** The log messages: at the first failure, after `alarmAfterMs` of failures, when it works again. */
  messages: { failing: string; alarm: string; recovered: string };
  alarmAfterMs: number;
  /** What the alarm line reports as still waiting. */
  backlog: () => Promise<unknown>;
}

export class FailureStreak {
  readonly #options: FailureStreakOptions;
  #failures = 0;
  #since: number | undefined;
  #alarmed = false;

  constructor(options: FailureStreakOptions) {
    this.#options = options;
  }

  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure and logs it (warn, error once when it has lasted, debug otherwise). */
  async failed(context: Record<string, unknown>): Promise<void> {
    const { logger, messages, alarmAfterMs, backlog } = this.#options;
    this.#failures++;
    this.#since ??= Date.now();
    const line = { ...context, failures: this.#failures, failingForMs: Date.now() - this.#since };
    if (this.#failures === 1) logger.warn(line, messages.failing);
    else if (!this.#alarmed && line.failingForMs >= alarmAfterMs) {
      this.#alarmed = true;
      logger.error({ ...line, backlog: await backlog().catch(() => undefined) }, messages.alarm);
    } else logger.debug(line, messages.failing);
  }

  /** Ends the run of failures, saying so if there was one. */
  succeeded(): void {
    if (this.#since !== undefined) {
      this.#options.logger.info(
        { failedForMs: Date.now() - this.#since, failures: this.#failures },
        this.#options.messages.recovered,
      );
    }
    this.#failures = 0;
    this.#since = undefined;
    this.#alarmed = false;
  }

  /** The pause before the next try: `baseMs` doubled per failure of the run, at most `maxMs`. */
  backoff(baseMs: number, maxMs: number): number {
    return Math.min(baseMs * 2 ** Math.max(0, this.#failures - 1), maxMs);
  }
}

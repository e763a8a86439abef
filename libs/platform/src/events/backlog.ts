/**
 * A queue of work waiting in the database (the event outbox, the mail jobs) as two gauges read at scrape time:
 * how many wait, and how long the oldest has waited. With the database away the last values stay (the database
 * metrics say why).
 */
import { Gauge, type Registry } from 'prom-client';

export interface Backlog {
  pending: number;
  /** Seconds since the oldest waiting item was written; 0 when none waits. */
  oldestAgeSeconds: number;
}

export function registerBacklogGauges(
  registry: Registry | undefined,
  read: () => Promise<Backlog>,
  names: { pending: string; oldest: string },
  help: { pending: string; oldest: string },
): void {
  // Both gauges are collected together on a scrape: they share one read (one query) while it runs.
  let reading: Promise<Backlog | undefined> | undefined;
  const backlog = () => {
    reading ??= read()
      .catch(() => undefined)
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  new Gauge({
    name: names.pending,
    help: help.pending,
    registers: registry ? [registry] : [],
    async collect() {
      const now = await backlog();
      if (now) this.set(now.pending);
    },
  });
  new Gauge({
    name: names.oldest,
    help: help.oldest,
    registers: registry ? [registry] : [],
    async collect() {
      const now = await backlog();
      if (now) this.set(now.oldestAgeSeconds);
    },
  });
}

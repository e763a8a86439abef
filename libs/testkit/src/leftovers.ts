/**
 * Test runs make databases (`test_*`, `tmpl_*`) and JetStream streams (`NS_*_AUTH_EVENTS`) named with the
 * time they were made (see `uniqueName`). Each run removes its own; this removes what an interrupted run
 * left behind, so that a long-lived PostgreSQL or NATS does not fill up over many runs.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { dropDatabase, withClient } from './databases.ts';
import { withNats } from './events.ts';

/** The creation time encoded by `uniqueName` (`<prefix>_<base36 ms>_<hex>`), or undefined. */
export function createdAtOf(name: string): number | undefined {
  const match = /^(?:test|tmpl|ns)_([0-9a-z]{6,10})_[0-9a-f]{8}(?:_|$)/i.exec(name);
  if (!match?.[1]) return undefined;
  const ms = Number.parseInt(match[1].toLowerCase(), 36);
  return Number.isFinite(ms) ? ms : undefined;
}

const deleteStreams = (
  natsUrl: string,
  options: Omit<ConnectionOptions, 'servers'>,
  doomed: (name: string) => boolean,
) =>
  withNats(natsUrl, options, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const { config } of jsm.streams.list()) if (doomed(config.name)) names.push(config.name);
    for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
  });

export async function removeLeftovers(databaseUrl: string, natsUrl: string, maxAgeMs = 3_600_000): Promise<void> {
  const isStale = (name: string) => (createdAtOf(name) ?? Number.POSITIVE_INFINITY) < Date.now() - maxAgeMs;
  const { rows } = await withClient(databaseUrl, (c) =>
    c.query<{ datname: string }>(
      `select datname from pg_database where datname like 'test\\_%' or datname like 'tmpl\\_%'`,
    ),
  );
  for (const { datname } of rows.filter((r) => isStale(r.datname))) await dropDatabase(databaseUrl, datname);
  await deleteStreams(natsUrl, {}, isStale);
}

/** Deletes one test's streams now (its namespace prefix), at the end of the test file. */
export const removeStreams = (natsUrl: string, namespace: string, options: Omit<ConnectionOptions, 'servers'> = {}) =>
  deleteStreams(natsUrl, options, (name) => name.startsWith(`${namespace.toUpperCase()}_`));

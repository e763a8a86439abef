/**
 * Test runs make databases (`test_*`, `tmpl_*`) and JetStream streams (`NS_*_AUTH_EVENTS`) named with the
 * time they were made (see `uniqueName`). Each run removes its own; this removes what an interrupted run
 * left behind, so that a long-lived PostgreSQL or NATS does not fill up over many runs.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, connect } from '@nats-io/transport-node';
import pg from 'pg';
import { dropDatabase } from './databases.ts';

/** The creation time encoded by `uniqueName` (`<prefix>_<base36 ms>_<hex>`), or undefined. */
export function createdAtOf(name: string): number | undefined {
  const match = /^(?:test|tmpl|ns)_([0-9a-z]{6,10})_[0-9a-f]{8}(?:_|$)/i.exec(name);
  if (!match?.[1]) return undefined;
  const ms = Number.parseInt(match[1].toLowerCase(), 36);
  return Number.isFinite(ms) ? ms : undefined;
}

const isStale = (name: string, olderThan: number) => {
  const created = createdAtOf(name);
  return created !== undefined && created < olderThan;
};

export async function removeLeftovers(databaseUrl: string, natsUrl: string, maxAgeMs = 3_600_000): Promise<void> {
  const olderThan = Date.now() - maxAgeMs;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  let names: string[];
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname like 'test\\_%' or datname like 'tmpl\\_%'`,
    );
    names = rows.map((r) => r.datname).filter((name) => isStale(name, olderThan));
  } finally {
    await admin.end();
  }
  for (const name of names) await dropDatabase(databaseUrl, name);

  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const stale: string[] = [];
    for await (const stream of jsm.streams.list()) {
      if (isStale(stream.config.name, olderThan)) stale.push(stream.config.name);
    }
    for (const name of stale) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Deletes one test's streams now (its namespace prefix), at the end of the test file. */
export async function removeStreams(
  natsUrl: string,
  namespace: string,
  options: Omit<ConnectionOptions, 'servers'> = {},
): Promise<void> {
  const nc = await connect({ servers: natsUrl, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    const prefix = `${namespace.toUpperCase()}_`;
    const doomed: string[] = [];
    for await (const stream of jsm.streams.list())
      if (stream.config.name.startsWith(prefix)) doomed.push(stream.config.name);
    for (const name of doomed) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

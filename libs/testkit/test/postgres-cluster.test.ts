import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type TestPostgresCluster } from '../src/postgres-cluster.ts';

describe("a test's own PostgreSQL cluster", () => {
  let cluster: TestPostgresCluster;
  const clients: pg.Client[] = [];

  const connected = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 2_000 });
    // A server that goes away reports it on the client as well as on the pending query.
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    cluster = await startPostgresCluster();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await cluster?.close();
  });

  it('keeps committed rows across a crash (immediate stop) and a restart', async () => {
    const before = await connected();
    await before.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    await before.query("INSERT INTO notes VALUES (1, 'survives a crash')");

    await cluster.stop({ mode: 'immediate' });

    await expect(before.query('SELECT 1')).rejects.toThrow();
    await expect(connected()).rejects.toThrow();

    await cluster.start();

    const after = await connected();
    const { rows } = await after.query('SELECT id, body FROM notes');
    expect(rows).toEqual([{ id: 1, body: 'survives a crash' }]);
  }, 60_000);

  it('stops cleanly (fast) and comes back on the same port', async () => {
    const { port } = cluster;
    await cluster.stop({ mode: 'fast' });
    await expect(connected()).rejects.toThrow();
    await cluster.start();
    const client = await connected();
    expect((await client.query('SHOW port')).rows).toEqual([{ port: String(port) }]);
  }, 60_000);
});

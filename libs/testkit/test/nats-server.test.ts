import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startNatsServer, type TestNatsServer } from '../src/nats-server.ts';

describe("a test's own NATS server", () => {
  let nats: TestNatsServer;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
    await nats?.close();
  });

  it('keeps its JetStream data across a restart', async () => {
    const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    connections.push(nc);
    const seen: string[] = [];
    void (async () => {
      for await (const status of nc.status()) seen.push(status.type);
    })();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    const ack = await jetstream(nc).publish('kept.greeting', 'hello');
    expect(ack.seq).toBe(1);

    await nats.stop();

    await vi.waitFor(() => expect(seen).toContain('disconnect'), { timeout: 5_000 });
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 1_000 })).rejects.toThrow();

    await nats.start();

    await vi.waitFor(() => expect(seen).toContain('reconnect'), { timeout: 10_000 });
    const info = await jsm.streams.info('KEPT');
    expect(info.state.messages).toBe(1);
    expect((await jsm.streams.getMessage('KEPT', { seq: 1 }))?.string()).toBe('hello');
  }, 30_000);

  it('says why when the server cannot start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nats-conf-'));
    try {
      const configFile = join(dir, 'broken.conf');
      await writeFile(configFile, 'authorization { users: [ { user: a, password: $UNDEFINED_PASSWORD } ] }\n');
      await expect(startNatsServer({ configFile })).rejects.toThrow(/UNDEFINED_PASSWORD/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

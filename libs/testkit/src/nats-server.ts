/**
 * A NATS server with JetStream that belongs to one test file, for tests that stop, restart or reconfigure
 * the broker (the shared one must never be touched). It listens on 127.0.0.1 on a free port and keeps its
 * JetStream data in its own temporary directory, so streams and messages survive `stop()` + `start()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { ownedServer } from './processes.ts';

export interface NatsServerOptions {
  /**
   * A nats-server configuration file (`-c`). The listen address, client port, store directory and
   * monitoring port given on the command line override the file's.
   */
  configFile?: string;
  /** The server's environment, e.g. the passwords a configuration file reads as `$VAR`. */
  env?: Record<string, string>;
}

export type TestNatsServer = Awaited<ReturnType<typeof startNatsServer>>;

export async function startNatsServer({ configFile, env = {} }: NatsServerOptions = {}) {
  const storeDir = await mkdtemp(join(tmpdir(), 'test-nats-'));
  const [port, monitorPort] = [await getPort(), await getPort()];
  const config = configFile ? ['-c', configFile] : [];
  const server = ownedServer(
    'nats-server',
    [...config, '-a', '127.0.0.1', '-p', `${port}`, '-m', `${monitorPort}`, '-js', '-sd', storeDir],
    // sbin is often off the PATH; the server sees nothing of ours but the PATH.
    { env: { PATH: `${process.env.PATH}:/usr/local/sbin:/usr/sbin`, ...env } },
    'Server is ready',
    `nats-server on port ${port}`,
  );
  /** Stops it gracefully (SIGTERM) and waits for the process to exit. */
  const stop = () => server.stop('SIGTERM');
  /** Stops it and removes its store directory. */
  const close = () => stop().finally(() => rm(storeDir, { recursive: true, force: true }));
  await server.start().catch((err: unknown) => close().then(() => Promise.reject(err)));
  return {
    /** `nats://127.0.0.1:<port>`. */
    url: `nats://127.0.0.1:${port}`,
    port,
    /** The monitoring endpoint (`/healthz`, `/varz`, `/connz`), without authentication. */
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    /** The JetStream store directory (`-sd`); removed by `close()`. */
    storeDir,
    /** What the server has logged since it was last started (permission violations among it). */
    log: server.log,
    stop,
    /** Starts it again on the same port with the same store directory, and waits until it is ready. */
    start: server.start,
    restart: () => stop().then(server.start),
    close,
  };
}

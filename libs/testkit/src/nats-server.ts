/**
 * A NATS server with JetStream that belongs to one test file, for tests that stop, restart or reconfigure
 * the broker (the shared one must never be touched). It listens on 127.0.0.1 on a free port and keeps its
 * JetStream data in its own temporary directory, so streams and messages survive `stop()` + `start()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acceptsConnections,
  findExecutable,
  freePorts,
  type OwnedProcess,
  spawnOwned,
  untilReady,
} from './processes.ts';

export interface NatsServerOptions {
  /**
   * A nats-server configuration file (`-c`). The listen address, client port, store directory and
   * monitoring port given on the command line override the file's.
   */
  configFile?: string;
  /** The server's whole environment, e.g. the passwords a configuration file reads as `$VAR`. */
  env?: Record<string, string>;
}

export interface TestNatsServer {
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The monitoring endpoint (`/healthz`, `/varz`, `/connz`), without authentication. */
  monitorUrl: string;
  /** The JetStream store directory (`-sd`); removed by `close()`. */
  storeDir: string;
  /** What the server has logged since it was last started (permission violations among it). */
  log(): string;
  /** Stops it gracefully (SIGTERM) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store directory, and waits until it is ready. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it and removes its store directory. */
  close(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;

export async function startNatsServer({ configFile, env = {} }: NatsServerOptions = {}): Promise<TestNatsServer> {
  const binary = await findExecutable('nats-server', ['/usr/sbin', '/usr/local/sbin']);
  const storeDir = await mkdtemp(join(tmpdir(), 'test-nats-'));
  const [port, monitorPort] = (await freePorts(2)) as [number, number];
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const args = [
    ...(configFile ? ['-c', configFile] : []),
    ...['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', storeDir],
  ];
  let current: OwnedProcess | undefined;

  const ready = async (): Promise<boolean> => (await jetStreamHealthy(monitorUrl)) && (await acceptsConnections(port));

  const start = async () => {
    if (current?.running()) throw new TypeError(`nats-server on port ${port} is already running`);
    const proc = spawnOwned(binary, args, { env });
    current = proc;
    try {
      await untilReady(proc, `nats-server on port ${port}`, ready);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
  };
  const stop = async () => {
    await current?.stop('SIGTERM', STOP_TIMEOUT_MS);
  };

  try {
    await start();
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    storeDir,
    log: () => current?.output() ?? '',
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/** `/healthz?js-enabled-only=true`: 200 once the server runs with JetStream enabled. */
async function jetStreamHealthy(monitorUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Server processes a test owns (nats-server, postgres): found on disk, started on free ports, their
 * output kept so that a server that fails to come up says why, stopped by a signal and awaited, and
 * killed if the test process exits first, so that no server outlives its run.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';
import { waitFor } from './wait-for.ts';

/** The tail of a process's output kept for error messages: enough for a failed start-up. */
const OUTPUT_LIMIT = 64 * 1024;

export interface OwnedProcess {
  /** What the process wrote to stdout and stderr (the last 64 KiB). */
  output(): string;
  running(): boolean;
  /** Settles once the process has exited (or could not be started), saying how it ended. */
  exited: Promise<string>;
  /** Sends `signal` and waits for the exit; after `timeoutMs` kills it and fails. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

interface SpawnOptions {
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

export function spawnOwned(command: string, args: string[], { env, uid, gid }: SpawnOptions): OwnedProcess {
  const child = spawn(command, args, { env, uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A server must not outlive the test process, even when a test forgets to stop it or the run is aborted.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let running = true;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => {
      keep(Buffer.from(`\n${command}: ${err.message}\n`));
      running = false;
      process.off('exit', killOnExit);
      resolve(`could not be started: ${err.message}`);
    });
    child.once('close', (code, signal) => {
      running = false;
      process.off('exit', killOnExit);
      resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
  });
  return {
    output: () => output,
    running: () => running,
    exited,
    async stop(signal, timeoutMs = 30_000) {
      if (!running) return;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`${command} did not exit within ${timeoutMs} ms of ${signal}; killed it\n${output}`);
      }
    },
  };
}

/** Runs a command to completion; fails with its output unless it exits with 0. */
export async function runToCompletion(command: string, args: string[], options: SpawnOptions): Promise<void> {
  const proc = spawnOwned(command, args, options);
  const outcome = await proc.exited;
  if (outcome !== 'exited with code 0') {
    throw new Error(`${command} ${args.join(' ')} ${outcome}\n${proc.output()}`);
  }
}

/**
 * Waits until `probe` says the server is ready, and fails at once, with the server's output, if the server
 * exits first (a bad config, a port taken) rather than at the deadline with nothing to go on.
 */
export async function untilReady(
  proc: OwnedProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const ready = waitFor(probe, { timeoutMs, intervalMs: 50, what: `${what} to be ready` });
  const died = proc.exited.then((outcome) => {
    throw new Error(`${what} ${outcome} before it was ready:\n${proc.output()}`);
  });
  try {
    await Promise.race([ready, died]);
  } catch (err) {
    if (!proc.running()) throw err;
    throw new Error(`${(err as Error).message}\n${proc.output()}`, { cause: err });
  } finally {
    died.catch(() => undefined);
    ready.catch(() => undefined);
  }
}

/** Ports nobody listens on now. All are held open until every one is chosen, so they differ. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The first executable called `name` on the PATH or in `otherDirs` (sbin and versioned dirs are often off the PATH). */
export async function findExecutable(name: string, otherDirs: string[] = []): Promise<string> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...otherDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new Error(`${name} not found on the PATH or in ${otherDirs.join(', ')}`);
}

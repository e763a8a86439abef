/**
 * A server process a test owns (nats-server, postgres). execa starts it and kills it should the test process
 * exit first, so that no server outlives its run; its output is kept, so that a server that fails to come up
 * says why; it is ready once it has logged `readyLine`, and stopped by a signal and awaited.
 */
import { execa, type Options, type ResultPromise } from 'execa';
import pTimeout from 'p-timeout';

/**
 * Runs a Node script to its end, as an operator runs a command (keys:rotate, keys:rewrap), with `env` over the
 * test process's own and info-level logs: its exit code and everything it printed.
 */
export async function runScript(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | undefined; output: string }> {
  const result = await execa(process.execPath, [script], {
    env: { ...env, LOG_LEVEL: 'info' },
    all: true,
    reject: false,
  });
  return { code: result.exitCode, output: result.all ?? '' };
}

export function ownedServer(
  file: string,
  args: string[],
  options: Pick<Options, 'env' | 'uid' | 'gid'>,
  readyLine: string,
  what: string,
) {
  /** What the server has written to stdout and stderr since it was last started. */
  let output = '';
  let current: { process: ResultPromise; exit?: string } | undefined;
  /** Sends `signal` and waits for the exit; kills it and fails if it has not exited 30 s later. */
  const stop = async (signal: NodeJS.Signals) => {
    if (!current || current.exit) return;
    const { process } = current;
    process.kill(signal);
    const timer = setTimeout(() => process.kill('SIGKILL'), 30_000);
    const { signal: endedBy } = await process;
    clearTimeout(timer);
    if (endedBy === 'SIGKILL' && signal !== 'SIGKILL') {
      throw new Error(`${what} did not exit within 30 s of ${signal}; killed it\n${output}`);
    }
  };
  const start = async () => {
    if (current && !current.exit) throw new TypeError(`${what} is already running`);
    output = '';
    const process = execa(file, args, {
      ...options,
      extendEnv: false,
      all: true,
      buffer: false,
      reject: false,
      // Also what execa sends should the test process exit while the server runs.
      killSignal: 'SIGKILL',
    });
    const started = { process, exit: undefined as string | undefined };
    current = started;
    // Ready once the line is in the output; event-driven (no vi.waitUntil: the global setups start servers too,
    // outside any test).
    const ready = new Promise<void>((resolve, reject) => {
      process.all.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes(readyLine)) resolve();
      });
      void process.then((result) => {
        started.exit = result.shortMessage ?? `exited with code ${result.exitCode}`;
        reject(new Error(`it ended first: ${started.exit}`));
      });
    });
    try {
      await pTimeout(ready, { milliseconds: 20_000, message: `waiting for ${what} to be ready: timed out` });
    } catch (err) {
      await stop('SIGKILL');
      throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
    }
  };
  return { log: () => output, start, stop };
}

/** The `postgres` OS user's ids: initdb, postgres and pgbouncer refuse to run as root, so as root they run as it. */
export async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await execa('id', [flag, 'postgres'])).stdout);
  return { uid: await id('-u'), gid: await id('-g') };
}

/** A Node script running as an operator or a kubelet starts it, for tests that watch it and signal it. */
export interface RunningScript {
  /** Everything it printed so far. */
  output(): string;
  /** Resolves when it printed `text` (rejects if it ends first, or after `timeoutMs`). */
  printed(text: string, timeoutMs?: number): Promise<void>;
  /** Its end: the exit code, or the signal that ended it. */
  ended: Promise<{ code: number | undefined; signal: string | undefined; output: string }>;
  kill(signal: NodeJS.Signals): void;
}

export function startScript(script: string, args: string[], env: Record<string, string>): RunningScript {
  let output = '';
  const child = execa(process.execPath, [script, ...args], {
    env: { LOG_LEVEL: 'info', ...env },
    all: true,
    buffer: false,
    reject: false,
    killSignal: 'SIGKILL',
  });
  const listeners = new Set<() => void>();
  child.all.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const listener of listeners) listener();
  });
  const ended = child.then((result) => ({ code: result.exitCode, signal: result.signal, output }));
  return {
    output: () => output,
    printed(text, timeoutMs = 20_000) {
      const seen = new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.includes(text)) {
            listeners.delete(check);
            resolve();
          }
        };
        listeners.add(check);
        check();
        void ended.then(() => reject(new Error(`it ended before printing "${text}":\n${output}`)));
      });
      return pTimeout(seen, {
        milliseconds: timeoutMs,
        message: `"${text}" not printed within ${timeoutMs} ms:\n${output}`,
      });
    },
    ended,
    kill: (signal) => child.kill(signal),
  };
}

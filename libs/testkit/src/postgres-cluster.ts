/**
 * A PostgreSQL cluster that belongs to one test file, for tests that stop or crash the database (the shared
 * one must never be touched). `initdb` into a temporary directory, `postgres` on 127.0.0.1 on a free port
 * with its socket in that directory; the data survives `stop()` + `start()`, `close()` removes it.
 * initdb and postgres refuse to run as root, so as root both run as the `postgres` OS user.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  acceptsConnections,
  findExecutable,
  freePorts,
  type OwnedProcess,
  runToCompletion,
  spawnOwned,
  untilReady,
} from './processes.ts';

export type PostgresStopMode = 'fast' | 'immediate';

export interface TestPostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the superuser, trust authentication. */
  url: string;
  port: number;
  /** What the server has logged since it was last started. */
  log(): string;
  /**
   * Stops the server and waits for it to exit: `fast` (the default) ends sessions and shuts down
   * cleanly, `immediate` is a crash (recovery from the WAL on the next start). The signals are those
   * `pg_ctl stop -m fast|immediate` sends.
   */
  stop(options?: { mode: PostgresStopMode }): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes the data directory. */
  close(): Promise<void>;
}

const STOP_SIGNAL: Record<PostgresStopMode, NodeJS.Signals> = { fast: 'SIGINT', immediate: 'SIGQUIT' };

/**
 * Tuned for throw-away clusters. fsync=off is safe here: `stop({ mode: 'immediate' })` kills processes,
 * not the machine, so written pages are still in the OS cache. synchronous_commit stays on: a committed
 * row must survive an immediate stop, and with it off the last commits may only be in shared memory.
 */
const SETTINGS = {
  fsync: 'off',
  full_page_writes: 'off',
  shared_buffers: '16MB',
  max_connections: '50',
  max_wal_senders: '0',
  wal_level: 'minimal',
};

export async function startPostgresCluster(): Promise<TestPostgresCluster> {
  const binDir = await postgresBinDir();
  const owner = await osUser();
  const dir = await mkdtemp(join(tmpdir(), 'test-pg-'));
  try {
    if (owner.uid !== undefined && owner.gid !== undefined) await chown(dir, owner.uid, owner.gid);
    const dataDir = join(dir, 'data');
    const env = { PATH: binDir, LC_ALL: 'C' };
    await runToCompletion(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { env, ...owner },
    );
    const [port] = (await freePorts(1)) as [number];
    const args = [
      ...['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dir],
      ...Object.entries(SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ];
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let current: OwnedProcess | undefined;

    const start = async () => {
      if (current?.running()) throw new TypeError(`postgres on port ${port} is already running`);
      const proc = spawnOwned(join(binDir, 'postgres'), args, { env, ...owner });
      current = proc;
      try {
        await untilReady(
          proc,
          `postgres on port ${port}`,
          async () => (await acceptsConnections(port)) && answers(url),
        );
      } catch (err) {
        await proc.stop('SIGKILL');
        throw err;
      }
    };
    const stop = async ({ mode }: { mode: PostgresStopMode } = { mode: 'fast' }) => {
      await current?.stop(STOP_SIGNAL[mode]);
    };

    await start();
    return {
      url,
      port,
      log: () => current?.output() ?? '',
      stop,
      start,
      async close() {
        await stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where initdb and postgres are: the PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian). */
async function postgresBinDir(): Promise<string> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const debianDirs = versions
    .filter((version) => /^\d+$/.test(version))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => `/usr/lib/postgresql/${version}/bin`);
  const initdb = await findExecutable('initdb', ['/usr/local/bin', ...debianDirs]);
  return initdb.slice(0, initdb.lastIndexOf('/'));
}

/** As root, the `postgres` OS user's ids (initdb refuses root); otherwise the current user. */
async function osUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => {
    const { stdout } = await promisify(execFile)('id', [flag, 'postgres']);
    return Number(stdout.trim());
  };
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch (err) {
    throw new Error('running as root, but there is no `postgres` OS user to run initdb and postgres as', {
      cause: err,
    });
  }
}

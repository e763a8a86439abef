/**
 * A PostgreSQL cluster that belongs to one test file, for tests that stop or crash the database (the shared
 * one must never be touched). `initdb` into a temporary directory, `postgres` on 127.0.0.1 on a free port
 * with its socket in that directory; the data survives `stop()` + `start()`, `close()` removes it.
 * initdb and postgres refuse to run as root, so as root both run as the `postgres` OS user.
 */
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import getPort from 'get-port';
import { ownedServer } from './processes.ts';

/** The signals `pg_ctl stop -m fast|immediate` sends: a clean shutdown, or a crash (WAL recovery on start). */
const STOP_SIGNAL = { fast: 'SIGINT', immediate: 'SIGQUIT' } as const;

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

export type TestPostgresCluster = Awaited<ReturnType<typeof startPostgresCluster>>;

export async function startPostgresCluster() {
  // pg_config sits beside the server binaries, which are often off the PATH (Debian: /usr/lib/postgresql/<v>/bin).
  const { stdout: binDir } = await execa('pg_config', ['--bindir']);
  const owner = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'test-pg-'));
  const options = { env: { PATH: binDir, LC_ALL: 'C' }, extendEnv: false, ...owner };
  const [dataDir, port] = [join(dir, 'data'), await getPort()];
  const settings = Object.entries(SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const server = ownedServer(
    join(binDir, 'postgres'),
    ['-D', dataDir, '-p', `${port}`, '-h', '127.0.0.1', '-k', dir, ...settings],
    options,
    'database system is ready to accept connections',
    `postgres on port ${port}`,
  );
  /** Stops the server (`fast` by default, see STOP_SIGNAL) and waits for it to exit. */
  const stop = ({ mode }: { mode: keyof typeof STOP_SIGNAL } = { mode: 'fast' }) => server.stop(STOP_SIGNAL[mode]);
  /** Stops it and removes the data directory. */
  const close = () => stop().finally(() => rm(dir, { recursive: true, force: true }));
  try {
    if (owner) await chown(dir, owner.uid, owner.gid);
    const initdb = ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
    await execa(join(binDir, 'initdb'), [...initdb, '--no-instructions'], options);
    await server.start();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    /** `postgres://postgres@127.0.0.1:<port>/postgres`: the superuser, trust authentication. */
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    /** What the server has logged since it was last started. */
    log: server.log,
    stop,
    /** Starts it again on the same port with the same data, and waits until it accepts connections. */
    start: server.start,
    close,
  };
}

/** The `postgres` OS user's ids, to run initdb and postgres as when we are root. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await execa('id', [flag, 'postgres'])).stdout);
  return { uid: await id('-u'), gid: await id('-g') };
}

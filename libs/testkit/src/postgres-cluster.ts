/**
 * A PostgreSQL cluster that belongs to one test file, for tests that stop or crash the database (the shared
 * one must never be touched). `initdb` into a temporary directory, `postgres` on 127.0.0.1 on a free port
 * with its socket in that directory; the data survives `stop()` + `start()`, `close()` removes it.
 * initdb and postgres refuse to run as root, so as root both run as the `postgres` OS user.
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import getPort from 'get-port';
import { ownedServer, postgresUser } from './processes.ts';

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

export interface ClusterOptions {
  /**
   * TLS only, as a managed PostgreSQL is: a CA made for this cluster signs a certificate for `localhost` (not
   * for 127.0.0.1), plain TCP connections are refused, and the `url` asks for `sslmode=verify-full`.
   */
  tls?: boolean;
  /** The host name the TLS certificate is for; `localhost` by default (what `url` connects to). */
  certifiedName?: string;
  /** Roles to create (LOGIN, with this password; scram-sha-256 over TCP), e.g. to see a wrong password refused. */
  passwords?: Record<string, string>;
}

export async function startPostgresCluster({
  tls = false,
  certifiedName = 'localhost',
  passwords = {},
}: ClusterOptions = {}) {
  // pg_config sits beside the server binaries, which are often off the PATH (Debian: /usr/lib/postgresql/<v>/bin).
  const { stdout: binDir } = await execa('pg_config', ['--bindir']);
  const owner = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'test-pg-'));
  const options = { env: { PATH: binDir, LC_ALL: 'C' }, extendEnv: false, ...owner };
  const [dataDir, port] = [join(dir, 'data'), await getPort()];
  const tlsSettings = tls
    ? { ssl: 'on', ssl_cert_file: join(dir, 'server.crt'), ssl_key_file: join(dir, 'server.key') }
    : {};
  const settings = Object.entries({ ...SETTINGS, ...tlsSettings }).flatMap(([name, value]) => [
    '-c',
    `${name}=${value}`,
  ]);
  const server = ownedServer(
    join(binDir, 'postgres'),
    ['-D', dataDir, '-p', `${port}`, '-h', tls ? 'localhost' : '127.0.0.1', '-k', dir, ...settings],
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
    if (tls) await makeCertificates(dir, certifiedName, owner);
    await writeFile(join(dataDir, 'pg_hba.conf'), hba(tls, Object.keys(passwords)));
    await server.start();
    for (const [role, password] of Object.entries(passwords)) {
      const sql = `CREATE ROLE ${role} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`;
      await execa(
        join(binDir, 'psql'),
        ['-h', dir, '-p', `${port}`, '-U', 'postgres', '-d', 'postgres', '-c', sql],
        options,
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  const caFile = join(dir, 'ca.crt');
  return {
    /**
     * `postgres://postgres@127.0.0.1:<port>/postgres`: the superuser, trust authentication. With `tls`,
     * `postgres://postgres@localhost:<port>/postgres?sslmode=verify-full&sslrootcert=<caFile>`.
     */
    url: tls
      ? `postgres://postgres@localhost:${port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`
      : `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** With `tls`: the PEM file of the CA that signed the server's certificate. */
    caFile: tls ? caFile : undefined,
    port,
    /** What the server has logged since it was last started. */
    log: server.log,
    stop,
    /** Starts it again on the same port with the same data, and waits until it accepts connections. */
    start: server.start,
    close,
  };
}

/**
 * Who may connect how: the OS user over the socket (setup); the roles with passwords by scram-sha-256; everyone
 * else trusted. Over TCP: TLS only when `tls` (a plain connection is refused, as a managed service refuses it).
 */
function hba(tls: boolean, passwordRoles: string[]): string {
  const tcp = tls ? 'hostssl' : 'host';
  const lines = ['local all all trust'];
  for (const address of ['127.0.0.1/32', '::1/128']) {
    for (const role of passwordRoles) lines.push(`${tcp} all ${role} ${address} scram-sha-256`);
    lines.push(`${tcp} all all ${address} trust`);
    if (tls) lines.push(`hostnossl all all ${address} reject`);
  }
  return `${lines.join('\n')}\n`;
}

/** A CA of this cluster's own and a server certificate it signed for `name`, with openssl. */
async function makeCertificates(
  dir: string,
  name: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=test-pg CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
  );
  await openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  );
  await writeFile(file('server.ext'), `subjectAltName = DNS:${name}\nextendedKeyUsage = serverAuth\n`);
  await openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.crt'),
  );
  // PostgreSQL refuses a key file that others can read, and must own it.
  await chmod(file('server.key'), 0o600);
  if (owner) await chown(file('server.key'), owner.uid, owner.gid);
}

/**
 * A PgBouncer in transaction pooling mode in front of a PostgreSQL server, as Neon's `-pooler` endpoint is:
 * every database of the server under the same name, any user the server trusts. Debian's `pgbouncer` on a free
 * port, its configuration and socket in a temporary directory; it refuses to run as root, so as root it runs
 * as the `postgres` OS user. Used to run the services' stories the way production runs them.
 */
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { ownedServer, postgresUser } from './processes.ts';

const PGBOUNCER = '/usr/sbin/pgbouncer';

export type TestPgBouncer = Awaited<ReturnType<typeof startPgBouncer>>;

/** `serverUrl`: the server to pool (host, port and user are taken from it). */
export async function startPgBouncer(serverUrl: string) {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const owner = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'test-pgbouncer-'));
  const port = await getPort();
  const ini = `[databases]
* = host=${server.hostname} port=${server.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir = ${dir}
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
max_db_connections = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile =
pidfile =
`;
  await writeFile(join(dir, 'pgbouncer.ini'), ini);
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  if (owner) await chown(dir, owner.uid, owner.gid);
  const bouncer = ownedServer(
    PGBOUNCER,
    [join(dir, 'pgbouncer.ini')],
    { env: {}, ...owner },
    'process up',
    `pgbouncer on port ${port}`,
  );
  try {
    await bouncer.start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    /** `url` with the pooler's host and port in place of the server's: the same database, through the pooler. */
    pooled(url: string): string {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = `${port}`;
      return pooled.toString();
    },
    log: bouncer.log,
    close: () => bouncer.stop('SIGINT').finally(() => rm(dir, { recursive: true, force: true })),
  };
}

/**
 * The auth service pointed at its database the ways a platform team points it: Neon's pooled endpoint (a
 * PgBouncer in transaction mode) for the service and its direct one for migrations, a TLS-only server with a
 * private CA, a database that is not up yet, and one that refuses for good. Run as processes where what counts
 * is what an operator sees (exit code, the one line, signals); in-process where a result is to be inspected.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, migrationConfigSchema } from '@todo/platform/config';
import { connectDatabase, migrateDatabase, pendingMigrations } from '@todo/platform/db';
import { databaseOptions } from '@todo/platform/service';
import {
  capturedLogger,
  query,
  removeStreams,
  startPgBouncer,
  startPostgresCluster,
  startScript,
  startTestService,
  type TestDatabase,
  type TestPgBouncer,
  type TestPostgresCluster,
  testLogger,
  uniqueName,
  withClient,
} from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authService } from '../src/definition.ts';
import { migrations } from '../src/migrations/index.ts';
import { buildAuthService } from '../src/service.ts';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));
const SETUP = fileURLToPath(new URL('../src/migrate.ts', import.meta.url));

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** An empty database on the shared server (no migrations yet), dropped after the file. */
const created: string[] = [];
async function emptyDatabase(): Promise<string> {
  const name = uniqueName('endpoints');
  await query(inject('databaseServerUrl'), `CREATE DATABASE ${name}`);
  created.push(name);
  return withDatabase(inject('databaseServerUrl'), name);
}

const migrationOptions = (url: string, list = migrations) => ({
  ...databaseOptions(authService, loadConfig(migrationConfigSchema, { DATABASE_URL: url }), testLogger('auth-setup')),
  migrations: list,
});

const advisoryLocks = async (url: string) =>
  Number((await query(url, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`))[0]?.n);

/** The auth service on a database of this file's (already migrated), configured for a 1.5 s statement timeout. */
async function authOn({ url, directUrl }: Pick<TestDatabase, 'url' | 'directUrl'>, eventsNamespace: string) {
  const logs = capturedLogger('auth', 'info');
  const database: TestDatabase = { url, directUrl, name: 'endpoints', drop: async () => undefined };
  const auth = await startTestService(authService, buildAuthService, {
    api: 'auth',
    database,
    nats: { url: inject('natsUrl') },
    eventsNamespace,
    logger: logs.logger,
    env: { AUTH_KEK: randomBytes(32).toString('base64'), DATABASE_STATEMENT_TIMEOUT_MS: '1500' },
  });
  return { auth, logs };
}

let pooler: TestPgBouncer;
const namespaces: string[] = [];

beforeAll(async () => {
  pooler = await startPgBouncer(inject('databaseServerUrl'));
});

afterAll(async () => {
  await pooler?.close();
  for (const name of created) await query(inject('databaseServerUrl'), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  for (const namespace of namespaces) await removeStreams(inject('natsUrl'), namespace);
});

describe("Neon's split: the service on the pooled endpoint, migrations on the direct one", () => {
  it('the setup step migrates directly and sets the statement timeout on the role; the service, pooled, runs with it', async () => {
    const direct = await emptyDatabase();
    const pooled = pooler.pooled(direct);
    const namespace = uniqueName('ns');
    namespaces.push(namespace);

    const setup = startScript(SETUP, [], {
      DATABASE_URL: pooled,
      DATABASE_DIRECT_URL: direct,
      DATABASE_STATEMENT_TIMEOUT_MS: '1500',
      NATS_URL: inject('natsUrl'),
      EVENTS_NAMESPACE: namespace,
    });
    const { code, output } = await setup.ended;
    expect(code, output).toBe(0);
    expect(output).toContain('statement timeout set on the role');

    // A runaway statement through the pooler is cancelled by the role's timeout.
    await expect(query(pooled, 'SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });

    const { auth, logs } = await authOn({ url: pooled, directUrl: direct }, namespace);
    try {
      const email = `${uniqueName('pooled')}@example.com`;
      const password = 'correct horse battery staple';
      expect((await auth.client.POST('/auth/register', { body: { email, password } })).response.status).toBe(201);
      // Logins go through the PostgreSQL-backed limits, whose library would name its statements.
      for (let i = 0; i < 3; i++) {
        const login = await auth.client.POST('/auth/login', { body: { email, password } });
        expect(login.response.status).toBe(200);
      }
      expect(logs.lines.filter((line) => String(line.msg).includes('statement timeout'))).toEqual([]);
    } finally {
      await auth.stop();
    }
  });

  it('a service whose sessions lack the configured statement timeout says so at start-up', async () => {
    const direct = await emptyDatabase();
    await migrateDatabase(migrationOptions(direct));
    const namespace = uniqueName('ns');
    namespaces.push(namespace);
    const { auth, logs } = await authOn({ url: direct, directUrl: direct }, namespace);
    await auth.stop();
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        expectedMs: 1500,
        actualMs: 0,
        msg: expect.stringContaining('setup step'),
      }),
    );
  });

  it('migrations through the pooler leave no lock behind: two at once and a third after all complete', async () => {
    const direct = await emptyDatabase();
    const pooled = pooler.pooled(direct);

    const [first, second] = await Promise.all([
      migrateDatabase(migrationOptions(pooled)),
      migrateDatabase(migrationOptions(pooled)),
    ]);
    expect([...first.applied, ...second.applied].sort()).toEqual(migrations.map((m) => m.name).sort());
    expect((await migrateDatabase(migrationOptions(pooled))).applied).toEqual([]);
    expect(await advisoryLocks(direct)).toBe(0);
  });

  it('a migration that cannot get its table lock within the lock timeout fails and applies nothing', async () => {
    const direct = await emptyDatabase();
    const last = migrations.at(-1);
    await migrateDatabase(migrationOptions(direct, migrations.slice(0, -1)));

    await withClient(direct, async (holder) => {
      // A long read holds its lock on the table the last migration alters (it adds a column to auth.users).
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE auth.users IN ACCESS SHARE MODE');
      await expect(migrateDatabase(migrationOptions(direct), { lockTimeoutMs: 300 })).rejects.toThrow(/lock timeout/);
      await holder.query('ROLLBACK');
    });
    expect(await withClient(direct, (c) => pendingMigrations(c, 'auth', migrations))).toEqual([last?.name]);

    expect((await migrateDatabase(migrationOptions(direct))).applied).toEqual([last?.name]);
  });
});

describe('a new pod never serves on an older schema', () => {
  it('`node migrate.ts wait` waits until the migrations of its version are in, changing nothing', async () => {
    const direct = await emptyDatabase();
    const wait = startScript(SETUP, ['wait'], { DATABASE_URL: direct });
    await wait.printed('waiting for the migrations of this version');
    expect(await withClient(direct, (c) => pendingMigrations(c, 'auth', migrations))).toHaveLength(migrations.length);

    await migrateDatabase(migrationOptions(direct));
    const { code, output } = await wait.ended;
    expect(code, output).toBe(0);
    expect(output).toContain('the schema is at this version');
  });
});

describe('SIGTERM is honoured in every phase, not only while serving', () => {
  it('ends the service while it waits for a database that does not answer yet', async () => {
    // Port 1: nothing listens there, so every attempt is refused at once.
    const server = startScript(SERVER, [], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/auth',
      AUTH_KEK: randomBytes(32).toString('base64'),
      PORT: '0',
      OPS_PORT: '0',
      HOST: '127.0.0.1',
    });
    // Connection refused is what a compute waking from zero looks like: retried, and said so.
    await server.printed('database not reachable yet');
    server.kill('SIGTERM');
    const { code, output } = await server.ended;
    expect(code, output).toBe(143);
    expect(output).toContain('start-up interrupted');
  });

  it('ends the setup step while it waits for another migration to finish, and the schema wait', async () => {
    const direct = await emptyDatabase();
    await withClient(direct, async (other) => {
      await other.query('BEGIN');
      await other.query(`SELECT pg_advisory_xact_lock(hashtext('migrate:auth'))`);
      const setup = startScript(SETUP, [], { DATABASE_DIRECT_URL: direct, DATABASE_URL: direct });
      await expect
        .poll(
          async () =>
            (
              await query(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)
            )[0]?.n,
          { timeout: 20_000, message: 'the setup step to wait for the migration lock' },
        )
        .toBe(1);
      setup.kill('SIGTERM');
      expect((await setup.ended).code).toBe(143);
      await other.query('ROLLBACK');
    });
    expect(await advisoryLocks(direct)).toBe(0);

    const wait = startScript(SETUP, ['wait'], { DATABASE_URL: direct });
    await wait.printed('waiting for the migrations of this version');
    wait.kill('SIGTERM');
    expect((await wait.ended).code).toBe(143);
  });
});

describe('a refusal no retry can fix stops start-up at once, with one line naming it', () => {
  let tls: TestPostgresCluster;
  beforeAll(async () => {
    tls = await startPostgresCluster({ tls: true, passwords: { app: 'right-password' } });
  }, 60_000);
  afterAll(async () => {
    await tls?.close();
  });

  /** Connects as the service does, with its logs: the error, and how many retries it logged. */
  async function connectAs(env: Record<string, string>) {
    const logs = capturedLogger('auth', 'info');
    const config = loadConfig(migrationConfigSchema, env);
    const error = await connectDatabase(databaseOptions(authService, config, logs.logger)).then(
      async (orm) => {
        await orm.close();
        return undefined;
      },
      (err: Error) => err,
    );
    const retries = logs.lines.filter((line) => line.msg === 'database not reachable yet').length;
    return { error, retries };
  }
  const messageOf = (err: Error | undefined) => {
    const parts: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message);
    return parts.join(': ');
  };
  const tlsUrl = (host: string, user = 'postgres', password = '') =>
    `postgres://${user}${password ? `:${password}` : ''}@${host}:${tls.port}/postgres?sslmode=verify-full`;

  it('a database that does not exist: the process exits 1 with one line and no retry', async () => {
    const server = startScript(SERVER, [], {
      DATABASE_URL: withDatabase(inject('databaseServerUrl'), uniqueName('missing')),
      AUTH_KEK: randomBytes(32).toString('base64'),
      PORT: '0',
      OPS_PORT: '0',
      HOST: '127.0.0.1',
    });
    const { code, output } = await server.ended;
    expect(code, output).toBe(1);
    expect(output).not.toContain('database not reachable yet');
    const fatal = output.split('\n').filter((line) => line.includes('"level":"fatal"'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/could not connect to PostgreSQL: the server refused the connection \(SQLSTATE 3D000\)/);
  });

  it('verify-full with DATABASE_CA_FILE connects over TLS', async () => {
    const config = loadConfig(migrationConfigSchema, {
      DATABASE_URL: tlsUrl('localhost'),
      DATABASE_CA_FILE: tls.caFile ?? '',
    });
    const orm = await connectDatabase(databaseOptions(authService, config, testLogger('auth')));
    try {
      const [row] = await orm.em
        .getConnection()
        .execute<{ ssl: boolean }[]>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(row?.ssl).toBe(true);
    } finally {
      await orm.close();
    }
  });

  it('a certificate from a CA it was not given, or for another host name, is refused without retries', async () => {
    const unknownCa = await connectAs({ DATABASE_URL: tlsUrl('localhost') });
    expect(messageOf(unknownCa.error)).toMatch(
      /TLS certificate did not verify \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    );
    expect(unknownCa.retries).toBe(0);

    // A server whose certificate, from the same kind of private CA, is for another host.
    const elsewhere = await startPostgresCluster({ tls: true, certifiedName: 'db.elsewhere.internal' });
    try {
      const otherName = await connectAs({
        DATABASE_URL: `postgres://postgres@localhost:${elsewhere.port}/postgres?sslmode=verify-full`,
        DATABASE_CA_FILE: elsewhere.caFile ?? '',
      });
      expect(messageOf(otherName.error)).toMatch(/TLS certificate did not verify \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
      expect(otherName.retries).toBe(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('a wrong password is refused without retries', async () => {
    const wrong = await connectAs({
      DATABASE_URL: tlsUrl('localhost', 'app', 'wrong-password'),
      DATABASE_CA_FILE: tls.caFile ?? '',
    });
    expect(messageOf(wrong.error)).toMatch(/SQLSTATE 28P01/);
    expect(wrong.retries).toBe(0);

    const right = await connectAs({
      DATABASE_URL: tlsUrl('localhost', 'app', 'right-password'),
      DATABASE_CA_FILE: tls.caFile ?? '',
    });
    expect(right.error).toBeUndefined();
  });
});

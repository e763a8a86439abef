/**
 * The body of every integration project's vitest global setup: PostgreSQL and NATS up (those named by
 * TEST_DATABASE_URL / TEST_NATS_URL when set, as in CI, otherwise containers started with testcontainers, for
 * a developer with Docker), one template database migrated with the given migration steps, both handed to
 * the test files through vitest's provide/inject; all undone at the end.
 *
 * A project may run the same stories the way production reaches its database (`TEST_DATABASE_VIA` in the
 * project's `env`): `pgbouncer` puts a PgBouncer in transaction pooling mode in front of the server (the
 * services connect through it, migrations go direct, as with Neon's pooled and direct endpoints); `tls` runs
 * them on a PostgreSQL cluster of the project's own that accepts only TLS, with `sslmode=verify-full` against a
 * CA made for it.
 */
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { GenericContainer, Wait } from 'testcontainers';
import type { TestProject } from 'vitest/node';
import { createTemplate, dropDatabase } from './databases.ts';
import { removeLeftovers } from './leftovers.ts';
import { startPgBouncer } from './pgbouncer.ts';
import { startPostgresCluster } from './postgres-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL with rights to create and drop databases. */
    databaseServerUrl: string;
    /** The migrated database every test file clones. */
    databaseTemplate: string;
    /** The server through the project's pooler, when it runs behind one. */
    databasePoolerUrl: string | undefined;
    natsUrl: string;
  }
}

export async function setUpIntegrationProject(
  project: TestProject,
  migrations: ((databaseUrl: string) => Promise<void>)[],
): Promise<() => Promise<void>> {
  const via = project.config.env?.TEST_DATABASE_VIA;
  if (via !== undefined && via !== 'pgbouncer' && via !== 'tls') {
    throw new TypeError(`TEST_DATABASE_VIA=${via}: pgbouncer, tls or unset`);
  }
  const [pg, tlsCluster, nats] = await Promise.all([
    process.env.TEST_DATABASE_URL || via === 'tls' ? undefined : new PostgreSqlContainer('postgres:17-alpine').start(),
    via === 'tls' ? startPostgresCluster({ tls: true }) : undefined,
    process.env.TEST_NATS_URL
      ? undefined
      : new GenericContainer('nats:2.10-alpine')
          .withCommand(['-js'])
          .withExposedPorts(4222)
          .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
          .start(),
  ]);
  const databaseUrl = tlsCluster?.url ?? pg?.getConnectionUri() ?? (process.env.TEST_DATABASE_URL as string);
  const pooler = via === 'pgbouncer' ? await startPgBouncer(databaseUrl) : undefined;
  const natsUrl = nats ? `nats://${nats.getHost()}:${nats.getMappedPort(4222)}` : (process.env.TEST_NATS_URL as string);
  await removeLeftovers(databaseUrl, natsUrl);
  const template = await createTemplate(databaseUrl, async (url) => {
    for (const migrate of migrations) await migrate(url);
  });
  project.provide('databaseServerUrl', databaseUrl);
  project.provide('databaseTemplate', template);
  project.provide('databasePoolerUrl', pooler?.pooled(databaseUrl));
  project.provide('natsUrl', natsUrl);
  return async () => {
    await dropDatabase(databaseUrl, template);
    await Promise.all([pg?.stop(), nats?.stop(), pooler?.close(), tlsCluster?.close()]);
  };
}

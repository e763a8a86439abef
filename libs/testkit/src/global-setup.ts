/**
 * The body of every integration project's vitest global setup: PostgreSQL and NATS up (those named by
 * TEST_DATABASE_URL / TEST_NATS_URL when set, as in CI, otherwise containers started with testcontainers, for
 * a developer with Docker), one template database migrated with the given migration steps, both handed to
 * the test files through vitest's provide/inject; all undone at the end.
 */
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { GenericContainer, Wait } from 'testcontainers';
import type { TestProject } from 'vitest/node';
import { createTemplate, dropDatabase } from './databases.ts';
import { removeLeftovers } from './leftovers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL with rights to create and drop databases. */
    databaseServerUrl: string;
    /** The migrated database every test file clones. */
    databaseTemplate: string;
    natsUrl: string;
  }
}

export async function setUpIntegrationProject(
  project: TestProject,
  migrations: ((databaseUrl: string) => Promise<void>)[],
): Promise<() => Promise<void>> {
  const [pg, nats] = await Promise.all([
    process.env.TEST_DATABASE_URL ? undefined : new PostgreSqlContainer('postgres:17-alpine').start(),
    process.env.TEST_NATS_URL
      ? undefined
      : new GenericContainer('nats:2.10-alpine')
          .withCommand(['-js'])
          .withExposedPorts(4222)
          .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
          .start(),
  ]);
  const databaseUrl = pg?.getConnectionUri() ?? (process.env.TEST_DATABASE_URL as string);
  const natsUrl = nats ? `nats://${nats.getHost()}:${nats.getMappedPort(4222)}` : (process.env.TEST_NATS_URL as string);
  await removeLeftovers(databaseUrl, natsUrl);
  const template = await createTemplate(databaseUrl, async (url) => {
    for (const migrate of migrations) await migrate(url);
  });
  project.provide('databaseServerUrl', databaseUrl);
  project.provide('databaseTemplate', template);
  project.provide('natsUrl', natsUrl);
  return async () => {
    await dropDatabase(databaseUrl, template);
    await Promise.all([pg?.stop(), nats?.stop()]);
  };
}

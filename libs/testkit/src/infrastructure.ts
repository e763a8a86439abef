/**
 * PostgreSQL and NATS for a test run: the ones named by TEST_DATABASE_URL / TEST_NATS_URL when set
 * (CI on this machine), otherwise containers started with testcontainers (a developer with Docker).
 */
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { GenericContainer, Wait } from 'testcontainers';

export interface Infrastructure {
  /** A URL with rights to create databases. */
  databaseUrl: string;
  natsUrl: string;
  stop(): Promise<void>;
}

export async function startInfrastructure(env = process.env): Promise<Infrastructure> {
  const stops: (() => Promise<unknown>)[] = [];
  let databaseUrl = env.TEST_DATABASE_URL;
  let natsUrl = env.TEST_NATS_URL;
  const [pg, nats] = await Promise.all([
    databaseUrl ? undefined : new PostgreSqlContainer('postgres:17-alpine').start(),
    natsUrl
      ? undefined
      : new GenericContainer('nats:2.10-alpine')
          .withCommand(['-js'])
          .withExposedPorts(4222)
          .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
          .start(),
  ]);
  if (pg) {
    databaseUrl = pg.getConnectionUri();
    stops.push(() => pg.stop());
  }
  if (nats) {
    natsUrl = `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`;
    stops.push(() => nats.stop());
  }
  return {
    databaseUrl: databaseUrl as string,
    natsUrl: natsUrl as string,
    async stop() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}

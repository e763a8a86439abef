/**
 * A real service in-process for black-box tests, from its description: configuration for tests (ephemeral
 * ports, the given database and NATS), its streams and durable consumers created as the setup step does,
 * the service itself, and clients of its API (the typed one and the raw one, both held to its OpenAPI
 * document). Plus a user's account on the auth API, which every story about the platform starts with.
 */
import { randomUUID } from 'node:crypto';
import {
  type AuthClient,
  type ClientOptions,
  createAuthClient,
  createTodoClient,
  type TodoClient,
  type TokenResponse,
} from '@todo/client';
import { loadConfig, migrationConfigSchema } from '@todo/platform/config';
import { connectDatabase, type MikroORM, migrateDatabase } from '@todo/platform/db';
import { createLogger, type Logger } from '@todo/platform/logger';
import {
  databaseOptions,
  type RunningService,
  type ServiceBuilder,
  type ServiceConfig,
  type ServiceDefinition,
  startService,
} from '@todo/platform/service';
import { query, type TestDatabase } from './databases.ts';
import { provisionEvents } from './events.ts';
import { checkedFetch, type HttpClient, httpClient } from './http.ts';
import { removeStreams } from './leftovers.ts';
import { openApiContract } from './openapi.ts';

/** Silent unless TEST_LOG_LEVEL says otherwise (e.g. `TEST_LOG_LEVEL=debug npm run test:only`). */
export const testLogger = (service: string) =>
  createLogger({ service, level: (process.env.TEST_LOG_LEVEL as 'silent' | undefined) ?? 'silent' });

/** The lines a captured logger wrote: as written (JSON text), and parsed. */
export interface CapturedLogs {
  raw: string[];
  readonly lines: Record<string, unknown>[];
}

/** A logger that keeps every line it writes (raw JSON, down to `level`), for tests that assert on logs. */
export function capturedLogger(
  service: string,
  level: 'trace' | 'debug' | 'info' = 'info',
): CapturedLogs & { logger: Logger } {
  const raw: string[] = [];
  const logger = createLogger({ service, level, destination: { write: (line: string) => raw.push(line) } });
  return {
    logger,
    raw,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

/** Applies a service's migrations to the database at `url`: a step of the template the test files clone. */
export const migrationOf = (definition: ServiceDefinition) => async (url: string) => {
  const config = loadConfig(migrationConfigSchema, { DATABASE_URL: url });
  await migrateDatabase(databaseOptions(definition, config, testLogger(`${definition.name}-migrate`)));
};

/** The service's ORM on the (migrated) database at `url`, for tests below the HTTP API; the caller closes it. */
export const ormOn = (definition: ServiceDefinition, url: string): Promise<MikroORM> => {
  const config = loadConfig(migrationConfigSchema, { DATABASE_URL: url });
  return connectDatabase(databaseOptions(definition, config, testLogger(`${definition.name}-db`)));
};

/**
 * DATABASE_URL and DATABASE_CA_FILE as an operator would write them: a URL that names its CA (`sslrootcert`, as
 * the TLS project's do) becomes the URL without it and the CA file as its own setting.
 */
function databaseSettings(url: string): { DATABASE_URL: string; DATABASE_CA_FILE?: string } {
  const parsed = new URL(url);
  const caFile = parsed.searchParams.get('sslrootcert');
  if (!caFile) return { DATABASE_URL: url };
  parsed.searchParams.delete('sslrootcert');
  return { DATABASE_URL: parsed.toString(), DATABASE_CA_FILE: caFile };
}

/** A NATS server, and credentials allowed to manage JetStream when it requires them. */
export interface TestNats {
  url: string;
  admin?: { user: string; pass: string };
}

/** The typed client (`@todo/client`) of each API, by the name of the service that serves it. */
interface TypedClients {
  auth: AuthClient;
  todo: TodoClient;
}
type Api = keyof TypedClients;
const typedClients: { [A in Api]: (baseUrl: string, options: ClientOptions) => TypedClients[A] } = {
  auth: createAuthClient,
  todo: createTodoClient,
};

export interface TestServiceOptions<A extends Api> {
  /** Which API the service serves, so which typed client `TestService.client` is. */
  api: A;
  database: TestDatabase;
  nats: TestNats;
  eventsNamespace: string;
  /** Variables for this service (and overrides of the test defaults). */
  env?: Record<string, string | undefined>;
  /** Where the service logs; defaults to `testLogger` (silent). A test that asserts on log lines passes its own. */
  logger?: Logger;
}

export interface TestService<C, X, A extends Api> {
  config: Readonly<C>;
  service: RunningService<X>;
  /** The API through its typed client, every response checked against the service's OpenAPI document. */
  client: TypedClients[A];
  /** The API untyped, for the requests no typed client can send; every response checked as `client`'s. */
  http: HttpClient;
  ops: HttpClient;
  url: string;
  database: TestDatabase;
  /** Runs SQL against the service's database, to arrange what only time could (expired sessions…). */
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Stops the service; with `cleanUp`, also drops its database and removes its namespace's streams. */
  stop(options?: { cleanUp?: boolean }): Promise<void>;
}

export async function startTestService<C extends ServiceConfig, X, A extends Api>(
  definition: ServiceDefinition<C>,
  build: ServiceBuilder<C, X>,
  { api, database, nats, eventsNamespace, env = {}, logger }: TestServiceOptions<A>,
): Promise<TestService<C, X, A>> {
  const config = loadConfig(definition.config, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    ...databaseSettings(database.url),
    NATS_URL: nats.url,
    EVENTS_NAMESPACE: eventsNamespace,
    // Every story sends all its requests from 127.0.0.1; the per-client floor has a story of its own.
    RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: '1000000',
    ...env,
  });
  await provisionEvents(nats.url, definition.events(eventsNamespace), nats.admin);
  const service = await startService(definition, build, config, logger ?? testLogger(definition.name));
  const contract = openApiContract(definition.docs.api);
  return {
    config,
    service,
    client: typedClients[api](service.api.url, { fetch: checkedFetch(contract), redirect: 'manual' }),
    http: httpClient(service.api.url, { contract }),
    ops: httpClient(service.ops.url),
    url: service.api.url,
    database,
    sql: (text, values) => query(database.url, text, values),
    async stop({ cleanUp = false } = {}) {
      await service.stop();
      if (cleanUp) {
        await database.drop();
        await removeStreams(nats.url, eventsNamespace, nats.admin);
      }
    },
  };
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export interface Accounts {
  /** Registers a fresh user and logs in. */
  newUser(overrides?: { email?: string; password?: string; name?: string }): Promise<TestUser>;
  /** Logs in (a new session) and fails the test unless it works. */
  logIn(email: string, password: string): Promise<TokenResponse>;
}

/** Accounts on the auth API behind `auth`. */
export function accountsOn(auth: AuthClient): Accounts {
  async function logIn(email: string, password: string): Promise<TokenResponse> {
    const login = await auth.POST('/auth/login', { body: { email, password } });
    if (login.response.status !== 200 || !login.data) {
      throw new Error(`login failed: ${login.response.status} ${JSON.stringify(login.error)}`);
    }
    return login.data;
  }
  return {
    logIn,
    async newUser(overrides = {}) {
      const email = overrides.email ?? `user-${randomUUID()}@example.com`;
      const password = overrides.password ?? `pw-${randomUUID()}`;
      const registered = await auth.POST('/auth/register', {
        body: { email, password, ...(overrides.name ? { name: overrides.name } : {}) },
      });
      if (registered.response.status !== 201 || !registered.data) {
        throw new Error(`register failed: ${registered.response.status} ${JSON.stringify(registered.error)}`);
      }
      const login = await logIn(email, password);
      return {
        id: registered.data.id,
        email,
        password,
        accessToken: login.access_token,
        refreshToken: login.refresh_token,
      };
    },
  };
}

/**
 * Starts a real auth service in-process for black-box tests: its own database cloned from the migrated
 * template, real NATS, ephemeral ports. Exported as `@todo/auth-service/testing` for the todo tests.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, migrationConfigSchema } from '@todo/platform/config';
import { migrateDatabase } from '@todo/platform/db';
import { createLogger } from '@todo/platform/logger';
import { databaseOptions } from '@todo/platform/service';
import {
  cloneDatabase,
  type HttpClient,
  httpClient,
  openApiContract,
  provisionEvents,
  removeStreams,
  type TestDatabase,
  uniqueName,
} from '@todo/testkit';
import pg from 'pg';
import { inject } from 'vitest';
import { type AuthConfig, authConfigSchema } from '../../src/config.ts';
import { authService } from '../../src/definition.ts';
import { eventTopology } from '../../src/events/topology.ts';
import { type RunningAuthService, startAuthService } from '../../src/service.ts';

/** Every response a test receives from the auth API is checked against this document. */
export const AUTH_SPEC = fileURLToPath(new URL('../../../../specs/api/auth.openapi.yaml', import.meta.url));

export const testLogger = (service: string) =>
  createLogger({ service, level: (process.env.TEST_LOG_LEVEL as 'silent' | undefined) ?? 'silent' });

export async function migrateAuthSchema(url: string): Promise<void> {
  const config = loadConfig(migrationConfigSchema, { DATABASE_URL: url });
  await migrateDatabase(databaseOptions(authService, config, testLogger('auth-migrate')));
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user: { id: string; email: string; name: string | null; createdAt: string };
}

export interface AuthHarness {
  config: AuthConfig;
  service: RunningAuthService;
  database: TestDatabase;
  http: HttpClient;
  ops: HttpClient;
  url: string;
  jwksUrl: string;
  /** Registers a fresh user and logs in. */
  newUser(overrides?: { email?: string; password?: string; name?: string }): Promise<TestUser>;
  /** Logs in (a new session) and fails the test unless it works. */
  logIn(email: string, password: string): Promise<TokenResponse>;
  /** Runs SQL against this service's database, to arrange what only time could (expired sessions…). */
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** A NATS server of the test's own (restartable, or running with the shipped authorization). */
export interface TestNats {
  url: string;
  /** Credentials allowed to manage JetStream, for the setup step and the cleanup; none when anonymous works. */
  admin?: { user: string; pass: string };
}

export interface StartAuthOptions {
  /** Share a database (the todo tests run both services on one); otherwise a fresh clone is made. */
  database?: TestDatabase;
  env?: Record<string, string>;
  eventsNamespace?: string;
  /** Otherwise the shared NATS of the test run. */
  nats?: TestNats;
}

export async function startAuth(options: StartAuthOptions = {}): Promise<AuthHarness> {
  const serverUrl = inject('databaseServerUrl');
  const ownsDatabase = options.database === undefined;
  const ownsNamespace = options.eventsNamespace === undefined;
  const eventsNamespace = options.eventsNamespace ?? uniqueName('ns');
  const nats = options.nats ?? { url: inject('natsUrl') };
  const database = options.database ?? (await cloneDatabase(serverUrl, inject('databaseTemplate')));
  const config = loadConfig(authConfigSchema, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    DATABASE_URL: database.url,
    NATS_URL: nats.url,
    EVENTS_NAMESPACE: eventsNamespace,
    AUTH_KEK: randomBytes(32).toString('base64'),
    JWT_ISSUER: 'http://auth.test',
    JWT_AUDIENCE: 'todo-api',
    // Test files register many users from 127.0.0.1; the registration limit has its own test.
    REGISTER_MAX_PER_IP_PER_HOUR: '10000',
    ...options.env,
  });
  await provisionEvents(nats.url, eventTopology(eventsNamespace), nats.admin);
  const service = await startAuthService(config, testLogger('auth'));
  const http = httpClient(service.api.url, { contract: openApiContract(AUTH_SPEC) });

  async function logIn(email: string, password: string): Promise<TokenResponse> {
    const login = await http.post<TokenResponse>('/auth/login', { email, password });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
    return login.body;
  }

  return {
    config,
    service,
    logIn,
    async sql(text, values = []) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    database,
    http,
    ops: httpClient(service.ops.url),
    url: service.api.url,
    jwksUrl: `${service.api.url}/.well-known/jwks.json`,
    async newUser(overrides = {}) {
      const email = overrides.email ?? `user-${randomUUID()}@example.com`;
      const password = overrides.password ?? `pw-${randomUUID()}`;
      const registered = await http.post<{ id: string }>('/auth/register', {
        email,
        password,
        ...(overrides.name ? { name: overrides.name } : {}),
      });
      if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${registered.text}`);
      const login = await logIn(email, password);
      return {
        id: registered.body.id,
        email,
        password,
        accessToken: login.access_token,
        refreshToken: login.refresh_token,
      };
    },
    async stop() {
      await service.stop();
      if (ownsDatabase) await database.drop();
      if (ownsNamespace) await removeStreams(nats.url, eventsNamespace, nats.admin);
    },
  };
}

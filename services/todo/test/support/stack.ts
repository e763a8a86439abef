/**
 * The whole system in-process for black-box tests: a real auth service issuing real tokens and a todo
 * service verifying them through the auth service's JWKS over HTTP, on one cloned database and real NATS.
 */
import { type AuthHarness, startAuth, type TestNats, testLogger } from '@todo/auth-service/testing';
import { loadConfig, migrationConfigSchema } from '@todo/platform/config';
import { connectDatabase, type MikroORM, migrateDatabase } from '@todo/platform/db';
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
import { inject } from 'vitest';
import { type TodoConfig, todoConfigSchema } from '../../src/config.ts';
import { todoService } from '../../src/definition.ts';
import { eventTopology } from '../../src/events/topology.ts';
import { type RunningTodoService, startTodoService } from '../../src/service.ts';

/** Every response a test receives from the todo API is checked against its OpenAPI document. */
const todoApi = (url: string) => httpClient(url, { contract: openApiContract(todoService.docs.api) });

export async function migrateTodoSchema(url: string): Promise<void> {
  const config = loadConfig(migrationConfigSchema, { DATABASE_URL: url });
  await migrateDatabase(databaseOptions(todoService, config, testLogger('todo-migrate')));
}

/** A migrated database of this file's own with the todo service's ORM on it, for tests below the HTTP API. */
export async function openTodoDatabase(): Promise<{ orm: MikroORM; database: TestDatabase; close(): Promise<void> }> {
  const database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  const config = loadConfig(migrationConfigSchema, { DATABASE_URL: database.url });
  const orm = await connectDatabase(databaseOptions(todoService, config, testLogger('todo-db')));
  return {
    orm,
    database,
    async close() {
      await orm.close();
      await database.drop();
    },
  };
}

export interface Stack {
  auth: AuthHarness;
  todo: RunningTodoService;
  todoConfig: TodoConfig;
  /** The todo API. */
  api: HttpClient;
  ops: HttpClient;
  stop(): Promise<void>;
}

/** Another todo replica beside the stack's, sharing its database, broker namespace and auth service. */
export async function startTodoReplica(
  stack: Stack,
  env: Record<string, string> = {},
): Promise<{ service: RunningTodoService; api: HttpClient; stop(): Promise<void> }> {
  const service = await startTodoService(todoConfigFor(stack.auth, stack.auth.database.url, env), testLogger('todo'));
  return { service, api: todoApi(service.api.url), stop: () => service.stop() };
}

export interface StackOptions {
  authEnv?: Record<string, string>;
  todoEnv?: Record<string, string>;
  /** A migrated database of the test's own (a cluster it stops); otherwise a clone of the template. */
  database?: TestDatabase;
  /** A NATS server of the test's own; otherwise the shared one, under a namespace of this stack's. */
  nats?: TestNats;
  /** Defaults to a fresh unique namespace. */
  eventsNamespace?: string;
}

function todoConfigFor(auth: AuthHarness, databaseUrl: string, env: Record<string, string> = {}): TodoConfig {
  return loadConfig(todoConfigSchema, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    DATABASE_URL: databaseUrl,
    NATS_URL: auth.config.NATS_URL,
    EVENTS_NAMESPACE: auth.config.EVENTS_NAMESPACE,
    AUTH_JWKS_URL: auth.jwksUrl,
    JWT_ISSUER: auth.config.JWT_ISSUER,
    JWT_AUDIENCE: auth.config.JWT_AUDIENCE,
    ...env,
  });
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = options.database ?? (await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate')));
  const nats = options.nats ?? { url: inject('natsUrl') };
  const auth = await startAuth({
    database,
    nats,
    eventsNamespace: options.eventsNamespace ?? uniqueName('ns'),
    env: options.authEnv ?? {},
  });
  const todoConfig = todoConfigFor(auth, database.url, options.todoEnv);
  await provisionEvents(nats.url, eventTopology(todoConfig.EVENTS_NAMESPACE), nats.admin);
  const todo = await startTodoService(todoConfig, testLogger('todo'));
  return {
    auth,
    todo,
    todoConfig,
    api: todoApi(todo.api.url),
    ops: httpClient(todo.ops.url),
    async stop() {
      await todo.stop();
      await auth.stop();
      await database.drop();
      await removeStreams(nats.url, auth.config.EVENTS_NAMESPACE, nats.admin);
    },
  };
}

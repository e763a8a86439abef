/**
 * The whole system in-process for black-box tests: a real auth service issuing real tokens and a todo
 * service verifying them through the auth service's JWKS over HTTP, on one cloned database and real NATS.
 */
import { type AuthHarness, startAuth, testLogger } from '@todo/auth-service/testing';
import { loadConfig } from '@todo/platform/config';
import { migrateDatabase } from '@todo/platform/db';
import { cloneDatabase, type HttpClient, httpClient, uniqueName } from '@todo/testkit';
import { inject } from 'vitest';
import { type TodoConfig, todoConfigSchema, todoMigrationConfigSchema } from '../../src/config.ts';
import { databaseOptions, type RunningTodoService, startTodoService } from '../../src/service.ts';

export async function migrateTodoSchema(url: string): Promise<void> {
  const config = loadConfig(todoMigrationConfigSchema, { DATABASE_URL: url });
  await migrateDatabase(databaseOptions(config, testLogger('todo-migrate')));
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

export interface StackOptions {
  authEnv?: Record<string, string>;
  todoEnv?: Record<string, string>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  const eventsNamespace = uniqueName('ns');
  const auth = await startAuth({ database, eventsNamespace, env: options.authEnv ?? {} });
  const todoConfig = loadConfig(todoConfigSchema, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    DATABASE_URL: database.url,
    NATS_URL: inject('natsUrl'),
    EVENTS_NAMESPACE: eventsNamespace,
    AUTH_JWKS_URL: auth.jwksUrl,
    JWT_ISSUER: auth.config.JWT_ISSUER,
    JWT_AUDIENCE: auth.config.JWT_AUDIENCE,
    ...options.todoEnv,
  });
  const todo = await startTodoService(todoConfig, testLogger('todo'));
  return {
    auth,
    todo,
    todoConfig,
    api: httpClient(todo.api.url),
    ops: httpClient(todo.ops.url),
    async stop() {
      await todo.stop();
      await auth.stop();
      await database.drop();
    },
  };
}

/**
 * The whole system in-process for black-box tests: a real auth service issuing real tokens and a todo
 * service verifying them through the auth service's JWKS over HTTP, on one database and real NATS. The auth
 * service is started from its package's public description, as any deployment would start it.
 */
import { randomBytes } from 'node:crypto';
import { authService } from '@todo/auth-service/definition';
import { buildAuthService } from '@todo/auth-service/service';
import type { MikroORM } from '@todo/platform/db';
import type { Logger } from '@todo/platform/logger';
import {
  type Accounts,
  accountsOn,
  type CapturedLogs,
  capturedLogger,
  cloneDatabase,
  type HttpClient,
  ormOn,
  startTestService,
  type TestDatabase,
  type TestNats,
  type TestService,
  uniqueName,
} from '@todo/testkit';
import { inject } from 'vitest';
import type { TodoConfig } from '../../src/config.ts';
import { todoService } from '../../src/definition.ts';
import { buildTodoService } from '../../src/service.ts';

/** A migrated database of this file's own with the todo service's ORM on it, for tests below the HTTP API. */
export async function openTodoDatabase(): Promise<{ orm: MikroORM; database: TestDatabase; close(): Promise<void> }> {
  const database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  const orm = await ormOn(todoService, database.url);
  return {
    orm,
    database,
    async close() {
      await orm.close();
      await database.drop();
    },
  };
}

type AuthService = Awaited<ReturnType<typeof startAuthOf>>;
type TodoService = TestService<TodoConfig, object, 'todo'>;

export interface Stack {
  auth: AuthService;
  todo: TodoService;
  todoConfig: TodoConfig;
  /** The todo API through its typed client, every response checked against its OpenAPI document. */
  client: TodoService['client'];
  /** The todo API untyped, for requests the typed client cannot send; responses checked as `client`'s. */
  api: HttpClient;
  ops: HttpClient;
  /** Every log line each service wrote, as written and parsed, at trace level; none without `captureLogs`. */
  logs: { auth: CapturedLogs; todo: CapturedLogs };
  stop(): Promise<void>;
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
  /** Keep every log line, down to trace, in `stack.logs` (otherwise the services log nowhere). */
  captureLogs?: boolean;
}

interface Placement {
  database: TestDatabase;
  nats: TestNats;
  eventsNamespace: string;
  logger?: Logger;
}

async function startAuthOf(place: Placement, env: Record<string, string> = {}) {
  const auth = await startTestService(authService, buildAuthService, {
    ...place,
    api: 'auth',
    env: {
      AUTH_KEK: randomBytes(32).toString('base64'),
      JWT_ISSUER: 'http://auth.test',
      JWT_AUDIENCE: 'todo-api',
      // Test files register many users from 127.0.0.1; the registration limit has its own test.
      REGISTER_MAX_PER_IP_PER_HOUR: '10000',
      ...env,
    },
  });
  return { ...auth, ...accountsOn(auth.client), jwksUrl: `${auth.url}/.well-known/jwks.json` } satisfies Accounts &
    typeof auth & { jwksUrl: string };
}

const startTodoOf = (place: Placement, auth: AuthService, env: Record<string, string> = {}): Promise<TodoService> =>
  startTestService(todoService, buildTodoService, {
    ...place,
    api: 'todo',
    env: {
      AUTH_JWKS_URL: auth.jwksUrl,
      JWT_ISSUER: auth.config.JWT_ISSUER,
      JWT_AUDIENCE: auth.config.JWT_AUDIENCE,
      // Stories fire hundreds of requests a minute as one user; the per-user limits have their own story.
      RATE_LIMIT_READS_PER_MINUTE: '100000',
      RATE_LIMIT_WRITES_PER_MINUTE: '100000',
      ...env,
    },
  });

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const place: Placement = {
    database: options.database ?? (await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'))),
    nats: options.nats ?? { url: inject('natsUrl') },
    eventsNamespace: options.eventsNamespace ?? uniqueName('ns'),
  };
  const authLogs = capturedLogger('auth', 'trace');
  const todoLogs = capturedLogger('todo', 'trace');
  const logged = (logs: typeof authLogs) => (options.captureLogs ? { logger: logs.logger } : {});
  const auth = await startAuthOf({ ...place, ...logged(authLogs) }, options.authEnv);
  const todo = await startTodoOf({ ...place, ...logged(todoLogs) }, auth, options.todoEnv);
  return {
    auth,
    todo,
    todoConfig: todo.config,
    client: todo.client,
    api: todo.http,
    ops: todo.ops,
    logs: { auth: authLogs, todo: todoLogs },
    async stop() {
      await todo.stop();
      await auth.stop({ cleanUp: true });
    },
  };
}

/** Another auth replica beside the stack's: same database, NATS namespace and (given the same AUTH_KEK) keys. */
export const startAuthReplica = (stack: Stack, env: Record<string, string> = {}) =>
  startAuthOf(
    {
      database: stack.auth.database,
      nats: { url: stack.auth.config.NATS_URL },
      eventsNamespace: stack.todoConfig.EVENTS_NAMESPACE,
    },
    env,
  );

/** Another todo replica beside the stack's, sharing its database, NATS namespace and auth service. */
export const startTodoReplica = (stack: Stack, env: Record<string, string> = {}) =>
  startTodoOf(
    {
      database: stack.auth.database,
      nats: { url: stack.todoConfig.NATS_URL },
      eventsNamespace: stack.todoConfig.EVENTS_NAMESPACE,
    },
    stack.auth,
    env,
  );

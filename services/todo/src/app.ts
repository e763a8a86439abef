/** createApp(deps): the todo API's middleware order, on one screen. No side effects. */
import type { MikroORM } from '@mikro-orm/postgresql';
import { type AuthState, type KeyResolver, type RevocationList, requireAccessToken } from '@todo/platform/auth';
import { type DatabaseState, requestScopedEntityManager } from '@todo/platform/db';
import { type HttpMetrics, jsonBody, problemDetails, type RequestState, requestContext } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import Koa from 'koa';
import type { TodoConfig } from './config.ts';
import type { TodoDeps } from './domain/deps.ts';
import { todoRoutes } from './routes/todos.routes.ts';

export interface TodoAppDeps {
  config: TodoConfig;
  logger: Logger;
  metrics: HttpMetrics;
  orm: MikroORM;
  keys: KeyResolver;
  revocations: RevocationList;
  /** False while the revocation list may be missing revocations for longer than the configured bound. */
  revocationsCurrent: () => boolean;
  /** What the use cases need. */
  todos: TodoDeps;
}

export type TodoContextState = RequestState & DatabaseState & AuthState;

export function createApp(deps: TodoAppDeps): Koa<TodoContextState> {
  const app = new Koa<TodoContextState>({ proxy: deps.config.TRUST_PROXY });
  const todos = todoRoutes(deps);

  app.use(requestContext(deps.logger, deps.metrics));
  app.use(problemDetails());
  // Every route of this app is protected: authentication comes before the body is even read.
  app.use(
    requireAccessToken({
      keys: deps.keys,
      issuer: deps.config.JWT_ISSUER,
      audience: deps.config.JWT_AUDIENCE,
      revocations: deps.revocations,
      revocationsCurrent: deps.revocationsCurrent,
      realm: 'todo',
    }),
  );
  app.use(jsonBody(deps.config.BODY_LIMIT));
  app.use(requestScopedEntityManager(deps.orm));
  app.use(todos.routes());
  app.use(todos.allowedMethods());
  app.on('error', (err) => deps.logger.error({ err }, 'unhandled app error'));
  return app;
}

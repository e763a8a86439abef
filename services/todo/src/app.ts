/** createApp(deps): the todo API's middleware order, on one screen. No side effects. */
import { requireAccessToken } from '@todo/platform/auth';
import { requestScopedEntityManager } from '@todo/platform/db';
import { createApiApp, jsonBody } from '@todo/platform/http';
import type Koa from 'koa';
import type { TodoAppDeps, TodoContextState } from './context.ts';
import { todoRoutes } from './routes/todos.routes.ts';

export function createApp(deps: TodoAppDeps): Koa<TodoContextState> {
  const app = createApiApp<TodoContextState>(deps);
  const todos = todoRoutes(deps);

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
  app.use(deps.limits);
  app.use(jsonBody(deps.config.BODY_LIMIT));
  app.use(requestScopedEntityManager(deps.orm));
  app.use(todos.routes());
  app.use(todos.allowedMethods());
  return app;
}

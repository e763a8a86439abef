/** createApp(deps): the todo API's middleware order, on one screen. No side effects. */
import { requireAccessToken } from '@todo/platform/auth';
import { requestScopedEntityManager } from '@todo/platform/db';
import {
  apiSecurityHeaders,
  cors,
  jsonBody,
  perClientLimit,
  problemDetails,
  rateLimitHeaders,
  requestContext,
  trustedProxies,
} from '@todo/platform/http';
import Koa from 'koa';
import type { TodoAppDeps, TodoContextState } from './context.ts';
import { todoRoutes } from './routes/todos.routes.ts';

export function createApp(deps: TodoAppDeps): Koa<TodoContextState> {
  const app = new Koa<TodoContextState>(trustedProxies(deps.config.TRUST_PROXY_HOPS));
  const todos = todoRoutes(deps);

  app.use(requestContext(deps.logger, deps.metrics));
  app.use(apiSecurityHeaders());
  app.use(rateLimitHeaders(deps.metrics.registry));
  // Before the error sink and any authentication: preflights need no token, problems stay readable cross-origin.
  app.use(cors(deps.config.CORS_ORIGINS));
  app.use(problemDetails());
  app.use(perClientLimit(deps.config.RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE));
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
  app.on('error', (err) => deps.logger.error({ err }, 'unhandled app error'));
  return app;
}

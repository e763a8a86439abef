/** The types the app and its routes share, so that neither imports the other. */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AuthState, KeyResolver, RevocationList } from '@todo/platform/auth';
import type { DatabaseState } from '@todo/platform/db';
import type { HttpMetrics, RateLimitState, RequestState } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import type { Middleware } from 'koa';
import type { TodoConfig } from './config.ts';
import type { TodoDeps } from './domain/deps.ts';

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
  /** Counts each request against its user's read or write limit. */
  limits: Middleware<AuthState & RateLimitState>;
}

export type TodoContextState = RequestState & RateLimitState & DatabaseState & AuthState;

/** The types the app and its routes share, so that neither imports the other. */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AuthState, KeyResolver, RevocationList } from '@todo/platform/auth';
import type { DatabaseState } from '@todo/platform/db';
import type { HttpMetrics, RequestState } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
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
}

export type TodoContextState = RequestState & DatabaseState & AuthState;

/** The types the app and its routes share, so that neither imports the other. */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AuthState } from '@todo/platform/auth';
import type { DatabaseState } from '@todo/platform/db';
import type { HttpMetrics, RateLimitState, RequestState } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import type { AuthConfig } from './config.ts';
import type { AuthDeps } from './domain/deps.ts';
import type { SigningKeys } from './keys/signing-keys.ts';

export interface AuthAppDeps {
  config: AuthConfig;
  logger: Logger;
  metrics: HttpMetrics;
  orm: MikroORM;
  keys: SigningKeys;
  /** What the use cases need. */
  auth: AuthDeps;
}

export type AuthContextState = RequestState & RateLimitState & DatabaseState & AuthState;

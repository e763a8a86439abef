/**
 * Wires the auth service from a parsed config and starts it: database, broker, signing keys, the API on
 * PORT and the ops endpoints on OPS_PORT. Returns a handle whose `stop()` undoes all of it in order.
 * Used by server.ts and, in-process, by the tests.
 */
import { fileURLToPath } from 'node:url';
import {
  connectDatabase,
  type DatabaseOptions,
  type DatabaseSettings,
  databaseOptionsFrom,
  databaseReady,
  registerPoolMetrics,
} from '@todo/platform/db';
import { eventReadiness, Outbox, OutboxRelay, openBroker } from '@todo/platform/events';
import { createMetrics, type RunningServer, serve } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import { createApp } from './app.ts';
import type { AuthConfig } from './config.ts';
import { AccessTokenIssuer } from './domain/access-tokens.ts';
import { createPasswordHasher } from './domain/passwords.ts';
import { sweepEndedSessions } from './domain/sessions.ts';
import { entities } from './entities/index.ts';
import { SigningKeys } from './keys/signing-keys.ts';
import { BruteForceGuard } from './limits/brute-force-guard.ts';
import { migrations } from './migrations/index.ts';

export const SERVICE_NAME = 'auth';

/** The service's OpenAPI document, served on the ops port at /openapi.json and rendered at /docs. */
export const API_SPEC = fileURLToPath(new URL('../../../specs/api/auth.openapi.yaml', import.meta.url));
const EVENTS_SPEC = fileURLToPath(new URL('../../../specs/events/asyncapi.yaml', import.meta.url));

export interface RunningAuthService {
  api: RunningServer;
  ops: RunningServer;
  keys: SigningKeys;
  stop(): Promise<void>;
}

export const databaseOptions = (config: DatabaseSettings, logger: Logger): DatabaseOptions =>
  databaseOptionsFrom(config, { schema: 'auth', entities, migrations, applicationName: SERVICE_NAME }, logger);

/** The key set as every replica and the rotation command build it. */
export const signingKeys = (orm: ConstructorParameters<typeof SigningKeys>[0], config: AuthConfig) =>
  new SigningKeys(orm, {
    kek: config.AUTH_KEK,
    algorithm: config.JWT_ALGORITHM,
    activationDelaySeconds: config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS,
    tokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });

export async function startAuthService(config: AuthConfig, logger: Logger): Promise<RunningAuthService> {
  const metrics = createMetrics(SERVICE_NAME);
  const orm = await connectDatabase(databaseOptions(config, logger));
  await registerPoolMetrics(orm, metrics.registry);
  const broker = openBroker({ settings: config, name: SERVICE_NAME, logger, registry: metrics.registry });
  const hasher = await createPasswordHasher({
    memoryCostKib: config.PASSWORD_MEMORY_KIB,
    timeCost: config.PASSWORD_TIME_COST,
  });
  const keys = signingKeys(orm, config);
  await keys.ensureKey();
  const reloadKeys = setInterval(() => {
    keys.reload().catch((err: unknown) => logger.warn({ err }, 'could not reload signing keys'));
  }, config.SIGNING_KEY_RELOAD_SECONDS * 1000);
  reloadKeys.unref();

  const sessionSettings = {
    lifetimeSeconds: config.SESSION_LIFETIME_SECONDS,
    idleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS,
    reuseIntervalSeconds: config.REFRESH_REUSE_INTERVAL_SECONDS,
  };
  const sweepSessions = setInterval(() => {
    sweepEndedSessions(orm.em.fork(), sessionSettings).catch((err: unknown) =>
      logger.warn({ err }, 'could not sweep ended sessions'),
    );
  }, 3_600_000);
  sweepSessions.unref();

  const tokens = new AccessTokenIssuer(keys, {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const guard = new BruteForceGuard(await orm.em.getConnection().getNativeClient(), {
    loginMaxConsecutiveFailures: config.LOGIN_MAX_CONSECUTIVE_FAILURES,
    loginBlockSeconds: config.LOGIN_BLOCK_SECONDS,
    loginMaxFailuresPerIpPerDay: config.LOGIN_MAX_FAILURES_PER_IP_PER_DAY,
    registerMaxPerIpPerHour: config.REGISTER_MAX_PER_IP_PER_HOUR,
    refreshMaxPerSessionPerMinute: config.REFRESH_MAX_PER_SESSION_PER_MINUTE,
  });

  const outbox = new Outbox(`todo-platform/${SERVICE_NAME}`);
  const relay = new OutboxRelay({
    orm,
    outbox,
    broker,
    namespace: config.EVENTS_NAMESPACE,
    logger,
    registry: metrics.registry,
  });
  relay.start();

  const app = createApp({
    config,
    logger,
    metrics,
    orm,
    hasher,
    keys,
    guard,
    outbox,
    sessions: {
      kek: config.AUTH_KEK,
      tokens,
      outbox,
      settings: sessionSettings,
    },
  });
  const served = await serve({
    name: SERVICE_NAME,
    app,
    config,
    logger,
    metrics,
    checks: { database: databaseReady(orm) },
    details: eventReadiness({ broker, relay }),
    docs: { specPath: API_SPEC, eventsSpecPath: EVENTS_SPEC, title: 'Auth API' },
  });

  return {
    api: served.api,
    ops: served.ops,
    keys,
    async stop() {
      await served.drain();
      clearInterval(reloadKeys);
      clearInterval(sweepSessions);
      await relay.stop();
      await broker.close();
      await orm.close();
    },
  };
}

/**
 * Wires the auth service from a parsed config and starts it: database, broker, signing keys, the API on
 * PORT and the ops endpoints on OPS_PORT. Returns a handle whose `stop()` undoes all of it in order.
 * Used by server.ts and, in-process, by the tests.
 */
import { fileURLToPath } from 'node:url';

import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectDatabase, type DatabaseOptions } from '@todo/platform/db';
import { authEventsStream, connectBroker, ensureStream, Outbox, OutboxRelay, pingBroker } from '@todo/platform/events';
import { apiDocs, createMetrics, createOpsApp, listen, type RunningServer } from '@todo/platform/http';
import type { Logger } from '@todo/platform/logger';
import { createApp } from './app.ts';
import type { AuthConfig, AuthMigrationConfig } from './config.ts';
import { AccessTokenIssuer } from './domain/access-tokens.ts';
import { createPasswordHasher } from './domain/passwords.ts';
import { entities } from './entities/index.ts';
import { SigningKeys } from './keys/signing-keys.ts';
import { BruteForceGuard } from './limits/brute-force-guard.ts';
import { migrations } from './migrations/index.ts';

export const SERVICE_NAME = 'auth';

/** The service's OpenAPI document, served on the ops port at /openapi.json and rendered at /docs. */
export const API_SPEC = fileURLToPath(new URL('../../../specs/api/auth.openapi.yaml', import.meta.url));

export interface RunningAuthService {
  api: RunningServer;
  ops: RunningServer;
  keys: SigningKeys;
  stop(): Promise<void>;
}

export function databaseOptions(config: AuthMigrationConfig, logger: Logger): DatabaseOptions {
  return {
    url: config.DATABASE_URL,
    schema: 'auth',
    entities,
    migrations,
    poolMax: config.DATABASE_POOL_MAX,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    applicationName: SERVICE_NAME,
    logger,
  };
}

export async function startAuthService(config: AuthConfig, logger: Logger): Promise<RunningAuthService> {
  const orm = await connectDatabase(databaseOptions(config, logger));
  const nats = await connectBroker({ url: config.NATS_URL, name: SERVICE_NAME, logger });
  const hasher = await createPasswordHasher({
    memoryCostKib: config.PASSWORD_MEMORY_KIB,
    timeCost: config.PASSWORD_TIME_COST,
  });
  const keys = new SigningKeys(orm, {
    kek: config.AUTH_KEK,
    algorithm: config.JWT_ALGORITHM,
    activationDelaySeconds: config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS,
    tokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  await keys.ensureKey();
  const reloadKeys = setInterval(() => {
    keys.reload().catch((err: unknown) => logger.warn({ err }, 'could not reload signing keys'));
  }, config.SIGNING_KEY_RELOAD_SECONDS * 1000);
  reloadKeys.unref();

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

  await ensureStream(await jetstreamManager(nats), authEventsStream(config.EVENTS_NAMESPACE));
  const outbox = new Outbox('todo-platform/auth');
  const relay = new OutboxRelay({ orm, outbox, js: jetstream(nats), namespace: config.EVENTS_NAMESPACE, logger });
  relay.start();

  const metrics = createMetrics(SERVICE_NAME);
  let draining = false;

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
      settings: {
        lifetimeSeconds: config.SESSION_LIFETIME_SECONDS,
        idleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS,
        reuseIntervalSeconds: config.REFRESH_REUSE_INTERVAL_SECONDS,
      },
    },
  });
  const opsApp = createOpsApp({
    logger,
    metrics,
    isDraining: () => draining,
    extend: apiDocs({ specPath: API_SPEC, title: 'Auth API' }),
    checks: {
      database: async () => {
        const check = await orm.checkConnection();
        if (!check.ok) throw new Error(check.reason);
      },
      nats: () => pingBroker(nats),
    },
  });
  const api = await listen(app, config.PORT, config.HOST);
  const ops = await listen(opsApp, config.OPS_PORT, config.HOST);
  logger.info({ api: api.url, ops: ops.url }, 'auth service listening');

  return {
    api,
    ops,
    keys,
    async stop() {
      draining = true;
      if (config.SHUTDOWN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, config.SHUTDOWN_DELAY_MS));
      clearInterval(reloadKeys);
      await api.close(config.SHUTDOWN_TIMEOUT_MS);
      await ops.close(1_000);
      await relay.stop();
      await nats.drain().catch((err: unknown) => logger.warn({ err }, 'NATS drain failed'));
      await orm.close();
    },
  };
}

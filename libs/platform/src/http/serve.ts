/**
 * The two servers of a service: its API on PORT and the ops app (health, readiness, metrics, API docs) on
 * OPS_PORT. `drain()` is the first half of a graceful stop: readiness fails at once so the load balancer
 * stops sending traffic, new connections keep being served for SHUTDOWN_DELAY_MS while it notices, then
 * in-flight requests get SHUTDOWN_TIMEOUT_MS to finish.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type Koa from 'koa';
import type { Logger } from '../logger.ts';
import { type ApiDocsOptions, apiDocs } from './api-docs.ts';
import type { HttpMetrics } from './metrics.ts';
import { createOpsApp, type ReadinessCheck, type ReadinessDetail } from './ops.ts';
import { listen, type RunningServer } from './server.ts';

export interface ServeConfig {
  HOST: string;
  PORT: number;
  OPS_PORT: number;
  SHUTDOWN_DELAY_MS: number;
  SHUTDOWN_TIMEOUT_MS: number;
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
}

export interface ServeOptions {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: each service's app has its own state type
  app: Koa<any>;
  config: ServeConfig;
  logger: Logger;
  metrics: HttpMetrics;
  checks: Record<string, ReadinessCheck>;
  details?: Record<string, ReadinessDetail>;
  docs: ApiDocsOptions;
}

export interface Served {
  api: RunningServer;
  ops: RunningServer;
  /** Fails readiness, waits SHUTDOWN_DELAY_MS, then closes both servers. */
  drain(): Promise<void>;
}

export async function serve({
  name,
  app,
  config,
  logger,
  metrics,
  checks,
  details,
  docs,
}: ServeOptions): Promise<Served> {
  let draining = false;
  const opsApp = createOpsApp({
    logger,
    metrics,
    checks,
    details,
    isDraining: () => draining,
    extend: apiDocs(docs),
  });
  const timeouts = {
    headersMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  };
  const api = await listen(app, config.PORT, config.HOST, timeouts);
  const ops = await listen(opsApp, config.OPS_PORT, config.HOST, timeouts);
  logger.info({ api: api.url, ops: ops.url }, `${name} service listening`);
  return {
    api,
    ops,
    async drain() {
      draining = true;
      if (config.SHUTDOWN_DELAY_MS > 0) await delay(config.SHUTDOWN_DELAY_MS);
      await api.close(config.SHUTDOWN_TIMEOUT_MS);
      await ops.close(1_000);
    },
  };
}

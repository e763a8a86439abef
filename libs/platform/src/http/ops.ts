/**
 * The operational app, served on OPS_PORT which no ingress exposes: liveness, readiness, metrics,
 * and whatever documents a service adds (its OpenAPI document and docs page).
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../logger.ts';
import type { HttpMetrics } from './metrics.ts';

export type ReadinessCheck = () => Promise<void>;

export interface OpsAppOptions {
  logger: Logger;
  metrics: HttpMetrics;
  /** Each check throws when its dependency is unreachable. */
  checks: Record<string, ReadinessCheck>;
  /** True once shutdown began: readiness fails so the pod leaves the load balancer first. */
  isDraining: () => boolean;
  /** Extra routes (documents), mounted as given. */
  extend?: (router: Router) => void;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? `failing: ${err.message}` : 'failing';
  } finally {
    clearTimeout(timer);
  }
}

export function createOpsApp({ logger, metrics, checks, isDraining, extend }: OpsAppOptions): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => runCheck(checks[name] as ReadinessCheck)));
    const report = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    const draining = isDraining();
    const ready = !draining && results.every((r) => r === 'ok');
    if (!ready) logger.warn({ checks: report, draining }, 'not ready');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : draining ? 'draining' : 'unavailable', checks: report };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  extend?.(router);
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.on('error', (err) => logger.error({ err }, 'ops server error'));
  return app;
}

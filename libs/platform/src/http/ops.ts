/**
 * The operational app, served on OPS_PORT which no ingress exposes: liveness, readiness, metrics,
 * and whatever documents a service adds (its OpenAPI document and docs page).
 */
import Router from '@koa/router';
import Koa from 'koa';
import pTimeout from 'p-timeout';
import type { Logger } from '../logger.ts';
import type { HttpMetrics } from './metrics.ts';

export type ReadinessCheck = () => Promise<void>;
/** A dependency the service works without for a while (NATS): reported, never a reason to be unready. */
export type ReadinessDetail = () => Promise<string> | string;

export interface OpsAppOptions {
  logger: Logger;
  metrics: HttpMetrics;
  /** Each check throws when its dependency is unreachable; any failing check makes the service unready. */
  checks: Record<string, ReadinessCheck>;
  /** Shown beside the checks ("ok" or what is wrong), without affecting readiness. */
  details?: Record<string, ReadinessDetail>;
  /** True once shutdown began: readiness fails so the pod leaves the load balancer first. */
  isDraining: () => boolean;
  /** Extra routes (documents), mounted as given. */
  extend?: (router: Router) => void;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<string> {
  try {
    await pTimeout(check(), { milliseconds: CHECK_TIMEOUT_MS, message: 'timed out' });
    return 'ok';
  } catch (err) {
    return err instanceof Error ? `failing: ${err.message}` : 'failing';
  }
}

async function runDetail(detail: ReadinessDetail): Promise<string> {
  let text = 'unknown';
  await runCheck(async () => {
    text = await detail();
  }).then((outcome) => {
    if (outcome !== 'ok') text = outcome;
  });
  return text;
}

const settle = async <T>(entries: Record<string, T>, run: (value: T) => Promise<string>) =>
  Object.fromEntries(await Promise.all(Object.entries(entries).map(async ([name, v]) => [name, await run(v)])));

export function createOpsApp({ logger, metrics, checks, details = {}, isDraining, extend }: OpsAppOptions): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [report, notes] = await Promise.all([settle(checks, runCheck), settle(details, runDetail)]);
    const draining = isDraining();
    const ready = !draining && Object.values(report).every((r) => r === 'ok');
    if (!ready) logger.warn({ checks: report, details: notes, draining }, 'not ready');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : draining ? 'draining' : 'unavailable', checks: report, details: notes };
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

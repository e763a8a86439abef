import { baseConfigSchema, env } from '@todo/platform/config';
import { z } from 'zod';

export const todoConfigSchema = baseConfigSchema
  .extend({
    PORT: env.port(3002),
    OPS_PORT: env.port(9002),
    AUTH_JWKS_URL: env.url(['http:', 'https:'], 'http://127.0.0.1:3001/.well-known/jwks.json'),
    JWT_ISSUER: z.url().default('http://localhost:3001'),
    JWT_AUDIENCE: z.string().min(1).default('todo-api'),
    JWKS_CACHE_MAX_AGE_SECONDS: env.int(300, 1, 86_400),
    JWKS_COOLDOWN_SECONDS: env.int(30, 0, 3_600),
    // While the JWKS cannot be fetched, keep verifying with the last good key set this long past its max age.
    // Keys are published minutes before they sign and stay published until their tokens expire, so that set
    // only lacks a key added since (its tokens get a 503, never a 401). What the bound caps: a key withdrawn in
    // an emergency keeps verifying while the JWKS stays out of reach. 0: a 503 as soon as the set is too old.
    JWKS_STALE_IF_ERROR_SECONDS: env.int(14_400, 0, 86_400),
    // At least the longest access-token lifetime the auth service may be configured with (1 h), plus margin.
    REVOCATION_REPLAY_SECONDS: env.int(3_900, 60, 7 * 86_400),
    // The revocation feed counts as stale when it has not confirmed it read everything for this long.
    REVOCATION_STALE_AFTER_SECONDS: env.int(10, 1, 3_600),
    // 0: keep serving while the feed is stale (readiness detail, metric and an error log say so). Otherwise
    // refuse API requests with 503 once the feed has not caught up for this long (measured as the stale bound
    // is, so at least that bound: the API never refuses while readiness says the feed is fine): revoked tokens
    // cannot slip through, at the price of the API going down with NATS.
    REVOCATION_MAX_STALENESS_SECONDS: env.int(0, 0, 86_400),
    // Per user and minute: reads counted in each replica's memory, writes in PostgreSQL across replicas.
    RATE_LIMIT_READS_PER_MINUTE: env.int(600, 1, 1_000_000),
    RATE_LIMIT_WRITES_PER_MINUTE: env.int(120, 1, 1_000_000),
    // How long a request waits for an earlier one holding the same Idempotency-Key before it gets a 409.
    IDEMPOTENCY_WAIT_MS: env.int(5_000, 1, 60_000),
  })
  .superRefine((c, ctx) => {
    if (
      c.REVOCATION_MAX_STALENESS_SECONDS > 0 &&
      c.REVOCATION_MAX_STALENESS_SECONDS < c.REVOCATION_STALE_AFTER_SECONDS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['REVOCATION_MAX_STALENESS_SECONDS'],
        message:
          'must be 0 or at least REVOCATION_STALE_AFTER_SECONDS, or the API would refuse while readiness and the stale metric say the feed is fine',
      });
    }
  });
export type TodoConfig = z.infer<typeof todoConfigSchema>;

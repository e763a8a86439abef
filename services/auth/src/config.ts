import { baseConfigSchema, env } from '@todo/platform/config';
import { z } from 'zod';

const kek = z
  .string({ message: 'is required: 32 random bytes, base64 (openssl rand -base64 32)' })
  .transform((value, ctx) => {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length !== 32 || bytes.toString('base64') !== value.replace(/\s/g, '')) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes encoded as base64 (openssl rand -base64 32)' });
      return z.NEVER;
    }
    return bytes;
  });

export const authConfigSchema = baseConfigSchema
  .extend({
    PORT: env.port(3001),
    OPS_PORT: env.port(9001),
    AUTH_KEK: kek,
    JWT_ISSUER: z.url().default('http://localhost:3001'),
    JWT_AUDIENCE: z.string().min(1).default('todo-api'),
    ACCESS_TOKEN_TTL_SECONDS: env.int(900, 30, 3600),
    SESSION_LIFETIME_SECONDS: env.int(30 * 86_400, 60),
    SESSION_IDLE_TIMEOUT_SECONDS: env.int(7 * 86_400, 60),
    REFRESH_REUSE_INTERVAL_SECONDS: env.int(10, 0, 300),
    LOGIN_MAX_CONSECUTIVE_FAILURES: env.int(10, 1, 1_000),
    LOGIN_BLOCK_SECONDS: env.int(900, 1, 86_400),
    LOGIN_MAX_FAILURES_PER_IP_PER_DAY: env.int(100, 1, 1_000_000),
    REGISTER_MAX_PER_IP_PER_HOUR: env.int(10, 1, 1_000_000),
    REFRESH_MAX_PER_SESSION_PER_MINUTE: env.int(60, 1, 100_000),
    JWKS_MAX_AGE_SECONDS: env.int(300, 0, 3600),
    SIGNING_KEY_RELOAD_SECONDS: env.int(30, 1, 600),
    SIGNING_KEY_ACTIVATION_DELAY_SECONDS: env.int(360, 0, 86_400),
    PASSWORD_MEMORY_KIB: env.int(19_456, 8_192, 1_048_576),
    PASSWORD_TIME_COST: env.int(2, 1, 10),
  })
  .superRefine((c, ctx) => {
    if (c.SIGNING_KEY_ACTIVATION_DELAY_SECONDS < c.JWKS_MAX_AGE_SECONDS + c.SIGNING_KEY_RELOAD_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIGNING_KEY_ACTIVATION_DELAY_SECONDS'],
        message:
          'must be at least JWKS_MAX_AGE_SECONDS + SIGNING_KEY_RELOAD_SECONDS, or verifiers could meet a key they have not fetched',
      });
    }
  });

export type AuthConfig = z.infer<typeof authConfigSchema>;

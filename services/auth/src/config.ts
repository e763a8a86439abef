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

/** The KEK being replaced, during a KEK rotation only: it opens what it sealed and seals nothing. Empty is unset. */
const previousKek = env.optional().pipe(kek.optional());

/**
 * argon2id at no less than OWASP's minimum (Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1), the default.
 * OWASP's equivalent pairs (46 MiB × 1 pass, 12 MiB × 3, 9 MiB × 4, 7 MiB × 5) are refused: each setting must
 * reach the minimum on its own, as the login's rehash check compares each parameter on its own.
 */
const argon2idCost = (minimum: number, max: number) =>
  z.coerce
    .number()
    .int()
    .min(minimum, { message: `must be at least ${minimum} (OWASP's minimum for argon2id: m=19456 KiB, t=2, p=1)` })
    .max(max)
    .default(minimum);

export const authConfigSchema = baseConfigSchema
  .extend({
    PORT: env.port(3001),
    OPS_PORT: env.port(9001),
    AUTH_KEK: kek,
    AUTH_KEK_PREVIOUS: previousKek,
    JWT_ISSUER: z.url().default('http://localhost:3001'),
    JWT_AUDIENCE: z.string().min(1).default('todo-api'),
    ACCESS_TOKEN_TTL_SECONDS: env.int(900, 30, 3600),
    SESSION_LIFETIME_SECONDS: env.int(30 * 86_400, 60, 365 * 86_400),
    SESSION_IDLE_TIMEOUT_SECONDS: env.int(7 * 86_400, 60, 365 * 86_400),
    REFRESH_REUSE_INTERVAL_SECONDS: env.int(10, 0, 300),
    LOGIN_MAX_CONSECUTIVE_FAILURES: env.int(10, 1, 1_000),
    LOGIN_BLOCK_SECONDS: env.int(900, 1, 86_400),
    // Per account, across clients: this many password checks per window, then blocks that double with each
    // failure of the day, up to the cap: guessing from many addresses crawls, the owner waits minutes at worst.
    LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: env.int(5, 1, 1_000),
    LOGIN_ACCOUNT_WINDOW_SECONDS: env.int(60, 1, 3_600),
    LOGIN_ACCOUNT_MAX_DELAY_SECONDS: env.int(300, 1, 3_600),
    // Per client (an IPv4 address, an IPv6 /64): failed logins per hour, sized for an office behind one NAT.
    LOGIN_MAX_FAILURES_PER_CLIENT_PER_HOUR: env.int(200, 1, 1_000_000),
    REGISTER_MAX_PER_IP_PER_HOUR: env.int(10, 1, 1_000_000),
    REFRESH_MAX_PER_SESSION_PER_MINUTE: env.int(60, 1, 100_000),
    JWKS_MAX_AGE_SECONDS: env.int(300, 0, 3600),
    SIGNING_KEY_RELOAD_SECONDS: env.int(30, 1, 600),
    SIGNING_KEY_ACTIVATION_DELAY_SECONDS: env.int(360, 0, 86_400),
    PASSWORD_MEMORY_KIB: argon2idCost(19_456, 1_048_576),
    PASSWORD_TIME_COST: argon2idCost(2, 10),
    // Mail (verification and password reset links). smtp:// (STARTTLS when the server offers it) or smtps://
    // (TLS from the first byte), credentials in the URL. Unset: each mail is written to the log instead of
    // sent, which the service says at start-up; refused in production.
    SMTP_URL: env.optional().pipe(env.url(['smtp:', 'smtps:']).optional()),
    MAIL_FROM: z.string().min(3).default('todo-platform <no-reply@localhost>'),
    // The web app that hosts the pages the links open (/verify-email, /reset-password); the token travels in
    // the link's fragment, which browsers never send to a server or in a Referer.
    PUBLIC_APP_URL: env.url(['http:', 'https:'], 'http://localhost:5173'),
    EMAIL_VERIFICATION_TTL_SECONDS: env.int(86_400, 300, 30 * 86_400),
    PASSWORD_RESET_TTL_SECONDS: env.int(1_800, 60, 86_400),
    // Unverified users may log in unless this is true (then a login is 403 email_not_verified).
    REQUIRE_VERIFIED_EMAIL: env.bool(false),
    // Mails asked for (verification resends, password resets), per address and per client, per hour.
    MAIL_MAX_PER_EMAIL_PER_HOUR: env.int(5, 1, 1_000),
    MAIL_MAX_PER_CLIENT_PER_HOUR: env.int(30, 1, 1_000_000),
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV === 'production' && !c.SMTP_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['SMTP_URL'],
        message: 'is required in production: without it verification and reset mails are only logged',
      });
    }
    if (c.AUTH_KEK_PREVIOUS?.equals(c.AUTH_KEK)) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_KEK_PREVIOUS'],
        message: 'must differ from AUTH_KEK: it is the key being replaced (unset it once `npm run keys:rewrap` ran)',
      });
    }
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

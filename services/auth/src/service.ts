/**
 * What the auth service builds on the shared foundation (database, NATS, outbox, metrics): its signing keys,
 * password hashing, brute-force limits, the use cases' dependencies and the app, plus the key-reload and
 * session-sweep timers. server.ts runs it (`runService`), the tests start it with `startTestService`.
 */
import { withoutNamedStatements } from '@todo/platform/db';
import type { ServiceBuilder } from '@todo/platform/service';
import { createApp } from './app.ts';
import type { AuthConfig } from './config.ts';
import { AccessTokenIssuer } from './domain/access-tokens.ts';
import { composeRecoveryMail } from './domain/account-recovery.ts';
import type { AuthDeps } from './domain/deps.ts';
import { createPasswordHasher } from './domain/passwords.ts';
import { sweepEndedSessions } from './domain/sessions.ts';
import { kekRingFor } from './keys/key-encryption.ts';
import { type SigningKeys, signingKeysFor } from './keys/signing-keys.ts';
import { BruteForceGuard } from './limits/brute-force-guard.ts';
import { MailRelay } from './mail/mail-relay.ts';
import { createMailTransport } from './mail/transport.ts';

export const buildAuthService: ServiceBuilder<AuthConfig, { keys: SigningKeys; mail: MailRelay }> = async ({
  config,
  logger,
  metrics,
  orm,
  outbox,
}) => {
  const kek = kekRingFor(config);
  logger.info({ kekIds: kek.ids }, 'key-encryption key ring loaded');
  const keys = signingKeysFor(orm, kek, config, logger);
  await keys.ensureKey();
  const reloadKeys = setInterval(() => {
    keys.reload().catch((err: unknown) => logger.warn({ err }, 'could not reload signing keys'));
  }, config.SIGNING_KEY_RELOAD_SECONDS * 1000);
  reloadKeys.unref();

  const auth: AuthDeps = {
    hasher: await createPasswordHasher({
      memoryCostKib: config.PASSWORD_MEMORY_KIB,
      timeCost: config.PASSWORD_TIME_COST,
    }),
    tokens: new AccessTokenIssuer(keys, {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    }),
    guard: new BruteForceGuard(
      withoutNamedStatements(await orm.em.getConnection().getNativeClient()),
      {
        loginMaxConsecutiveFailures: config.LOGIN_MAX_CONSECUTIVE_FAILURES,
        loginBlockSeconds: config.LOGIN_BLOCK_SECONDS,
        loginAccountAttemptsPerWindow: config.LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW,
        loginAccountWindowSeconds: config.LOGIN_ACCOUNT_WINDOW_SECONDS,
        loginAccountMaxDelaySeconds: config.LOGIN_ACCOUNT_MAX_DELAY_SECONDS,
        loginMaxFailuresPerClientPerHour: config.LOGIN_MAX_FAILURES_PER_CLIENT_PER_HOUR,
        registerMaxPerClientPerHour: config.REGISTER_MAX_PER_IP_PER_HOUR,
        refreshMaxPerSessionPerMinute: config.REFRESH_MAX_PER_SESSION_PER_MINUTE,
        mailMaxPerEmailPerHour: config.MAIL_MAX_PER_EMAIL_PER_HOUR,
        mailMaxPerClientPerHour: config.MAIL_MAX_PER_CLIENT_PER_HOUR,
      },
      metrics.registry,
    ),
    outbox,
    kek,
    recovery: {
      publicAppUrl: config.PUBLIC_APP_URL,
      verificationTtlSeconds: config.EMAIL_VERIFICATION_TTL_SECONDS,
      resetTtlSeconds: config.PASSWORD_RESET_TTL_SECONDS,
      requireVerifiedEmail: config.REQUIRE_VERIFIED_EMAIL,
    },
    // The relay is made below, from these deps (its compose function uses them).
    mail: { notify: () => mail.notify() },
    sessions: {
      lifetimeSeconds: config.SESSION_LIFETIME_SECONDS,
      idleTimeoutSeconds: config.SESSION_IDLE_TIMEOUT_SECONDS,
      reuseIntervalSeconds: config.REFRESH_REUSE_INTERVAL_SECONDS,
    },
  };
  const sweepSessions = setInterval(() => {
    sweepEndedSessions(auth, orm.em.fork()).catch((err: unknown) =>
      logger.warn({ err }, 'could not sweep ended sessions'),
    );
  }, 3_600_000);
  sweepSessions.unref();

  const mailTransport = createMailTransport(config.SMTP_URL, logger, {
    revealLinks: config.NODE_ENV === 'development',
  });
  const mail = new MailRelay({
    orm,
    transport: mailTransport,
    compose: composeRecoveryMail(auth),
    from: config.MAIL_FROM,
    logger,
    registry: metrics.registry,
  });
  mail.start();

  return {
    app: createApp({ config, logger, metrics, orm, keys, auth }),
    details: { mail: mail.readiness },
    handles: { keys, mail },
    async stop() {
      clearInterval(reloadKeys);
      clearInterval(sweepSessions);
      await mail.stop();
      mailTransport.close();
    },
  };
};

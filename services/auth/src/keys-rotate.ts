/**
 * `npm run keys:rotate`: adds a signing key that every replica publishes at once and that starts signing
 * after SIGNING_KEY_ACTIVATION_DELAY_SECONDS; then deletes keys whose tokens have all expired.
 * Safe to run while traffic runs: no valid token is rejected at any point.
 */
import { loadConfig } from '@todo/platform/config';
import { connectDatabase } from '@todo/platform/db';
import { createLogger } from '@todo/platform/logger';
import { authConfigSchema } from './config.ts';
import { SigningKeys } from './keys/signing-keys.ts';
import { databaseOptions, SERVICE_NAME } from './service.ts';

try {
  const config = loadConfig(authConfigSchema);
  const logger = createLogger({ service: `${SERVICE_NAME}-keys`, level: config.LOG_LEVEL });
  const orm = await connectDatabase(databaseOptions(config, logger));
  try {
    const keys = new SigningKeys(orm, {
      kek: config.AUTH_KEK,
      algorithm: config.JWT_ALGORITHM,
      activationDelaySeconds: config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS,
      tokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    });
    await keys.reload();
    // Refuses to rotate with a KEK that cannot open the current key: the new key would be unusable too.
    if (keys.published().length > 0) keys.active();
    const added = await keys.rotate();
    const pruned = await keys.prune();
    logger.info(
      { added: added.kid, algorithm: config.JWT_ALGORITHM, signsFrom: added.activatesAt.toISOString(), pruned },
      'signing key added',
    );
  } finally {
    await orm.close();
  }
} catch (err) {
  console.error(
    err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : err,
  );
  process.exit(1);
}

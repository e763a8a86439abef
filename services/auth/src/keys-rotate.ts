/**
 * `npm run keys:rotate`: adds a signing key that every replica publishes at once and that starts signing
 * after SIGNING_KEY_ACTIVATION_DELAY_SECONDS; then deletes keys whose tokens have all expired.
 * Safe to run while traffic runs: no valid token is rejected at any point.
 */
import { connectDatabase } from '@todo/platform/db';
import { runCommand } from '@todo/platform/http';
import { authConfigSchema } from './config.ts';
import { databaseOptions, SERVICE_NAME, signingKeys } from './service.ts';

await runCommand(`${SERVICE_NAME}-keys`, authConfigSchema, async (config, logger) => {
  const orm = await connectDatabase(databaseOptions(config, logger));
  try {
    const keys = signingKeys(orm, config);
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
});

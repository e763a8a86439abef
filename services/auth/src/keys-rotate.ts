/**
 * `npm run keys:rotate`: adds a signing key that every replica publishes at once and that starts signing
 * after SIGNING_KEY_ACTIVATION_DELAY_SECONDS; then deletes keys whose tokens have all expired.
 * Safe to run while traffic runs: no valid token is rejected at any point.
 */
import { connectDatabase } from '@todo/platform/db';
import { databaseOptions, runCommand } from '@todo/platform/service';
import { authConfigSchema } from './config.ts';
import { authService } from './definition.ts';
import { signingKeysFor } from './keys/signing-keys.ts';

await runCommand(`${authService.name}-keys`, authConfigSchema, async (config, logger) => {
  const orm = await connectDatabase(databaseOptions(authService, config, logger));
  try {
    const keys = signingKeysFor(orm, config);
    await keys.reload();
    // Refuses to rotate with a KEK that cannot open the current key: the new key would be unusable too.
    if (keys.published().length > 0) keys.active();
    const added = await keys.rotate();
    const pruned = await keys.prune();
    logger.info({ added: added.kid, signsFrom: added.activatesAt.toISOString(), pruned }, 'signing key added');
  } finally {
    await orm.close();
  }
});

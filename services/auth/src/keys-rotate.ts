/**
 * `npm run keys:rotate`: adds a signing key that every replica publishes at once and that starts signing
 * after SIGNING_KEY_ACTIVATION_DELAY_SECONDS; then deletes keys whose tokens have all expired.
 * Safe to run while traffic runs: no valid token is rejected at any point.
 */
import { runDatabaseCommand } from '@todo/platform/service';
import { authService } from './definition.ts';
import { kekRingFor } from './keys/key-encryption.ts';
import { signingKeysFor } from './keys/signing-keys.ts';

await runDatabaseCommand(authService, 'keys', async (config, logger, orm) => {
  // The new key is sealed with AUTH_KEK; a ring that cannot open the current key is refused (`rotate`).
  const keys = signingKeysFor(orm, kekRingFor(config), config, logger);
  await keys.reload();
  const added = await keys.rotate();
  const pruned = await keys.prune();
  logger.info({ added: added.kid, signsFrom: added.activatesAt.toISOString(), pruned }, 'signing key added');
});

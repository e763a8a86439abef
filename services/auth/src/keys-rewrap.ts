/**
 * `npm run keys:rewrap`: re-seals every signing key and every session secret under AUTH_KEK, the third step of
 * a KEK rotation (see the README's runbook). Run it once every replica runs with the new AUTH_KEK and the old
 * one as AUTH_KEK_PREVIOUS; then AUTH_KEK_PREVIOUS can go. Refuses, changing nothing, when a value opens under
 * no KEK of the ring. Safe while traffic runs, and to run again (it then reports nothing left to rewrap).
 */
import { runDatabaseCommand } from '@todo/platform/service';
import { authService } from './definition.ts';
import { kekRingFor } from './keys/key-encryption.ts';
import { rewrapSealedValues } from './keys/rewrap.ts';

await runDatabaseCommand(authService, 'keys', async (config, logger, orm) => {
  const kek = kekRingFor(config);
  const report = await rewrapSealedValues(orm, kek);
  logger.info(
    {
      kekIds: kek.ids,
      rewrapped: report.signingKeys.length + report.sessions,
      signingKeys: report.signingKeys,
      sessions: report.sessions,
      alreadyCurrent: report.alreadyCurrent,
    },
    'sealed values rewrapped under AUTH_KEK',
  );
});

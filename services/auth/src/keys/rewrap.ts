/**
 * Re-sealing every sealed value (the private signing keys, the session secrets) under the current KEK, the
 * step of a KEK rotation that makes AUTH_KEK_PREVIOUS unnecessary. One transaction: a value that opens under
 * no KEK of the ring stops it and nothing changes, so the previous KEK is never dropped while something
 * still needs it. Values already sealed by the current KEK in the current format are left as they are,
 * which makes a second run a cheap check that nothing is left.
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { SessionSchema } from '../entities/session.entity.ts';
import { SigningKeySchema } from '../entities/signing-key.entity.ts';
import { type KekRing, sessionSecretContext, UnsealError } from './key-encryption.ts';
import { lockSigningKeys } from './signing-keys.ts';

interface RewrapReport {
  /** The signing keys re-sealed, by kid: compare them with the keys you expect (a planted row would be here). */
  signingKeys: string[];
  /** How many session secrets were re-sealed. */
  sessions: number;
  /** Values that were already sealed by the current KEK. */
  alreadyCurrent: number;
}

class RewrapRefusedError extends Error {
  override readonly name = 'RewrapRefusedError';
  readonly code = 'rewrap_refused';
}

/** Sessions are read in batches of this many, and the identity map cleared after each. */
const BATCH = 500;
/** How many of the values that do not open the refusal names. */
const NAMED = 5;

export async function rewrapSealedValues(orm: MikroORM, kek: KekRing): Promise<RewrapReport> {
  return orm.em.fork().transactional(async (em) => {
    // Taken by key rotations and other rewraps too: a key added meanwhile cannot escape this run.
    await lockSigningKeys(em);
    const report: RewrapReport = { signingKeys: [], sessions: 0, alreadyCurrent: 0 };
    const unopened: string[] = [];

    /** Re-seals one value when it needs it; notes it when it does not open. Returns the new value, if any. */
    const rewrap = (what: string, sealed: Buffer, context: string): Buffer | undefined => {
      try {
        const plaintext = kek.unseal(sealed, context);
        if (kek.isCurrent(sealed)) {
          report.alreadyCurrent += 1;
          return undefined;
        }
        const resealed = kek.seal(plaintext, context);
        plaintext.fill(0);
        return resealed;
      } catch (err) {
        if (!(err instanceof UnsealError)) throw err;
        unopened.push(`${what} ${err.message}`);
        return undefined;
      }
    };

    for (const key of await em.find(SigningKeySchema, {}, { orderBy: { kid: 'asc' } })) {
      const resealed = rewrap(`signing key ${key.kid}`, Buffer.from(key.privateJwkSealed), key.kid);
      if (resealed) {
        key.privateJwkSealed = resealed;
        report.signingKeys.push(key.kid);
      }
    }
    await flushAndClear(em);

    for (let after = ''; ; ) {
      const batch = await em.find(SessionSchema, after ? { id: { $gt: after } } : {}, {
        fields: ['id', 'secretSealed'],
        orderBy: { id: 'asc' },
        limit: BATCH,
      });
      for (const session of batch) {
        const context = sessionSecretContext(session.id);
        const resealed = rewrap(`session ${session.id}`, Buffer.from(session.secretSealed), context);
        if (resealed) {
          session.secretSealed = resealed;
          report.sessions += 1;
        }
      }
      await flushAndClear(em);
      const last = batch.at(-1);
      if (!last || batch.length < BATCH) break;
      after = last.id;
    }

    if (unopened.length > 0) {
      const named = unopened.slice(0, NAMED).join('; ');
      const more = unopened.length > NAMED ? `; and ${unopened.length - NAMED} more` : '';
      throw new RewrapRefusedError(
        `refusing to rewrap, nothing was changed: ${unopened.length} sealed value(s) open under no KEK of the ring: ${named}${more}`,
      );
    }
    return report;
  });
}

async function flushAndClear(em: EntityManager): Promise<void> {
  await em.flush();
  em.clear();
}

/**
 * The token-signing key set, shared by every replica through PostgreSQL.
 *
 * A key's life: created and published in the JWKS at once, it starts signing at `activatesAt` (one JWKS
 * cache period later, so every verifier already holds it), stops signing when a newer key activates, and
 * stays published until every token it signed has expired. Any replica can sign and every token verifies
 * everywhere, because they all read the same rows and pick the signer by time, not by who created it.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ACCESS_TOKEN_ALGORITHM, type KeyResolver } from '@todo/platform/auth';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type SigningKey, SigningKeySchema } from '../entities/signing-key.entity.ts';
import { seal, unseal } from './key-encryption.ts';

export interface SigningKeysOptions {
  kek: Buffer;
  /** A new key is published this long before it signs. At least the JWKS max-age plus the reload interval. */
  activationDelaySeconds: number;
  /** Lifetime of the longest-lived token a key signs; a retired key stays published this long. */
  tokenLifetimeSeconds: number;
}

export interface ActiveKey {
  kid: string;
  alg: typeof ACCESS_TOKEN_ALGORITHM;
  privateKey: KeyObject;
}

interface LoadedKey {
  row: SigningKey;
  privateKey?: KeyObject;
}

/** Published keys outlive their last token by this margin (clock skew, in-flight requests). */
const RETIREMENT_MARGIN_SECONDS = 60;

export class SigningKeys {
  readonly #orm: MikroORM;
  readonly #options: SigningKeysOptions;
  #keys: LoadedKey[] = [];

  constructor(orm: MikroORM, options: SigningKeysOptions) {
    this.#orm = orm;
    this.#options = options;
  }

  /** Reads the key set; called at start-up and then periodically so that rotations reach every replica. */
  async reload(): Promise<void> {
    // Keys of another algorithm (EdDSA, which earlier versions could create) are neither published nor used.
    const rows = await this.#orm.em
      .fork()
      .find(SigningKeySchema, { alg: ACCESS_TOKEN_ALGORITHM }, { orderBy: { activatesAt: 'asc' } });
    const previous = new Map(this.#keys.map((k) => [k.row.kid, k]));
    this.#keys = rows.map((row) => ({ row, privateKey: previous.get(row.kid)?.privateKey }));
  }

  /** Creates the first key when there is none, so that a fresh deployment can sign at once. */
  async ensureKey(): Promise<void> {
    await this.#orm.em.fork().transactional(async (em) => {
      await lock(em);
      if ((await em.count(SigningKeySchema, { alg: ACCESS_TOKEN_ALGORITHM })) === 0) await this.#insert(em, new Date());
    });
    await this.reload();
    // Fail at start-up, not at the first login, when AUTH_KEK is not the key the set was sealed with.
    this.active();
  }

  /** Adds a key that activates after the activation delay; returns its kid and when it starts signing. */
  async rotate(now = new Date()): Promise<{ kid: string; activatesAt: Date }> {
    const activatesAt = new Date(now.getTime() + this.#options.activationDelaySeconds * 1000);
    const row = await this.#orm.em.fork().transactional(async (em) => {
      await lock(em);
      return this.#insert(em, activatesAt);
    });
    await this.reload();
    return { kid: row.kid, activatesAt };
  }

  /** Deletes keys that no token still in circulation can have been signed with. */
  async prune(now = new Date()): Promise<string[]> {
    const doomed = this.#lifecycle(now)
      .filter((k) => k.unpublishAt !== undefined && k.unpublishAt <= now)
      .map((k) => k.key.row.kid);
    if (doomed.length > 0) await this.#orm.em.fork().nativeDelete(SigningKeySchema, { kid: { $in: doomed } });
    await this.reload();
    return doomed;
  }

  /** The key that signs now: the most recently activated one. */
  active(now = new Date()): ActiveKey {
    const current = this.#lifecycle(now).findLast((k) => k.key.row.activatesAt <= now);
    if (!current) throw new Error('no active signing key: run the auth service once or `npm run keys:rotate`');
    const key = current.key;
    key.privateKey ??= this.#open(key.row);
    return { kid: key.row.kid, alg: ACCESS_TOKEN_ALGORITHM, privateKey: key.privateKey };
  }

  #open(row: SigningKey): KeyObject {
    let plaintext: Buffer;
    try {
      plaintext = unseal(this.#options.kek, Buffer.from(row.privateJwkSealed), row.kid);
    } catch (cause) {
      throw new Error(`AUTH_KEK cannot decrypt signing key ${row.kid}: it is not the key the set was sealed with`, {
        cause,
      });
    }
    return createPrivateKey({ key: JSON.parse(plaintext.toString('utf8')), format: 'jwk' });
  }

  /** Every key a verifier may meet: upcoming, active, and retired but with tokens still alive. */
  published(now = new Date()): JWK[] {
    return this.#lifecycle(now)
      .filter((k) => k.unpublishAt === undefined || k.unpublishAt > now)
      .map((k) => ({ ...(k.key.row.publicJwk as JWK), kid: k.key.row.kid, alg: k.key.row.alg, use: 'sig' }));
  }

  /** Verification keys for this service's own bearer routes: the published set, read locally. */
  resolver(): KeyResolver {
    // Imported once per key, not per request; a key that leaves the published set is simply not found.
    const imported = new Map<string, KeyObject>();
    return async (header) => {
      const jwk = this.published().find((k) => k.kid === header.kid && k.alg === header.alg);
      if (!jwk?.kid) throw new Error(`no published key ${header.kid ?? '(none)'} for ${header.alg ?? '(none)'}`);
      let key = imported.get(jwk.kid);
      if (!key) {
        key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
        imported.set(jwk.kid, key);
      }
      return key;
    };
  }

  /** Keys ordered by activation, each with the moment it may leave the JWKS (undefined: still signing or upcoming). */
  #lifecycle(now: Date): { key: LoadedKey; unpublishAt?: Date }[] {
    return this.#keys.map((key, i) => {
      const successor = this.#keys.slice(i + 1).find((k) => k.row.activatesAt <= now);
      if (!successor) return { key };
      const lastSigned = successor.row.activatesAt.getTime();
      const unpublishAt = new Date(
        lastSigned + (this.#options.tokenLifetimeSeconds + RETIREMENT_MARGIN_SECONDS) * 1000,
      );
      return { key, unpublishAt };
    });
  }

  async #insert(em: EntityManager, activatesAt: Date): Promise<SigningKey> {
    const alg = ACCESS_TOKEN_ALGORITHM;
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = Buffer.from(JSON.stringify(await exportJWK(privateKey)), 'utf8');
    const row = em.create(SigningKeySchema, {
      kid,
      alg,
      publicJwk: publicJwk as Record<string, unknown>,
      privateJwkSealed: seal(this.#options.kek, privateJwk, kid),
      createdAt: new Date(),
      activatesAt,
    });
    await em.flush();
    return row;
  }
}

const lock = (em: EntityManager) => em.execute(`select pg_advisory_xact_lock(hashtext('auth:signing-keys'))`);

/** The key set as every replica and the rotation command build it. */
export const signingKeysFor = (
  orm: MikroORM,
  config: { AUTH_KEK: Buffer; SIGNING_KEY_ACTIVATION_DELAY_SECONDS: number; ACCESS_TOKEN_TTL_SECONDS: number },
) =>
  new SigningKeys(orm, {
    kek: config.AUTH_KEK,
    activationDelaySeconds: config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS,
    tokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });

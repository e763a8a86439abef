/**
 * The token-signing key set, shared by every replica through PostgreSQL.
 *
 * A key's life: created and published in the JWKS at once, it starts signing at `activatesAt` (one JWKS
 * cache period later, so every verifier already holds it), stops signing when a newer key activates, and
 * stays published until every token it signed has expired. Any replica can sign and every token verifies
 * everywhere, because they all read the same rows and pick the signer by time, not by who created it.
 *
 * Write access to the table is not enough to forge a token: a row counts only when its private half opens
 * under the KEK ring (sealed with its kid as associated data) and the public half, derived from that private
 * key, has the kid as its thumbprint and is the stored one. The JWKS publishes the derived public key, never
 * the stored column; a row that fails is neither published nor used, and is logged once.
 */
import { createECDH, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ACCESS_TOKEN_ALGORITHM, type KeyResolver } from '@todo/platform/auth';
import type { Logger } from '@todo/platform/logger';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type SigningKey, SigningKeySchema } from '../entities/signing-key.entity.ts';
import { type KekRing, UnsealError } from './key-encryption.ts';

/**
 * At most this many keys are published at once (the JWKS's documented bound): each rotation adds one, and a
 * key leaves the set only once every token it signed has expired, so rotations in quick succession pile up.
 */
const MAX_PUBLISHED_KEYS = 16;

export interface SigningKeysOptions {
  kek: KekRing;
  /** Where a rejected key is reported. */
  logger: Logger;
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

/** A row that passed every check, with both halves as derived from its sealed private key. */
interface OpenedKey {
  row: SigningKey;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

/** A row that did not: why, and whether it could not even be decrypted (the KEK ring is wrong). */
interface RejectedKey {
  row: SigningKey;
  reason: string;
  undecryptable: boolean;
}

/** Published keys outlive their last token by this margin (clock skew, in-flight requests). */
const RETIREMENT_MARGIN_SECONDS = 60;

export class SigningKeys {
  readonly #orm: MikroORM;
  readonly #options: SigningKeysOptions;
  #keys: OpenedKey[] = [];
  #rejected: RejectedKey[] = [];
  /** Kids already reported as rejected: a bad row is logged once, not at every reload. */
  readonly #reported = new Set<string>();

  constructor(orm: MikroORM, options: SigningKeysOptions) {
    this.#orm = orm;
    this.#options = options;
  }

  /** Reads and checks the key set; called at start-up and then periodically so that rotations reach every replica. */
  async reload(): Promise<void> {
    // Keys of another algorithm (EdDSA, which earlier versions could create) are neither published nor used.
    const rows = await this.#orm.em
      .fork()
      .find(SigningKeySchema, { alg: ACCESS_TOKEN_ALGORITHM }, { orderBy: { activatesAt: 'asc' } });
    const previous = new Map(this.#keys.map((k) => [k.row.kid, k]));
    const keys: OpenedKey[] = [];
    const rejected: RejectedKey[] = [];
    for (const row of rows) {
      const known = previous.get(row.kid);
      if (known && sameMaterial(known.row, row)) {
        keys.push({ ...known, row });
        continue;
      }
      const opened = await openKey(this.#options.kek, row);
      if ('reason' in opened) rejected.push(opened);
      else keys.push(opened);
    }
    this.#keys = keys;
    this.#rejected = rejected;
    // When nothing decrypts, the ring is wrong rather than the rows: whoever needs the active key says so.
    if (keys.length === 0 && rejected.every((k) => k.undecryptable)) return;
    for (const { row, reason } of rejected) {
      if (this.#reported.has(row.kid)) continue;
      this.#reported.add(row.kid);
      this.#options.logger.error(
        { kid: row.kid, reason },
        'signing key rejected: it is neither published nor used to sign or verify',
      );
    }
  }

  /** Creates the first key when there is none, so that a fresh deployment can sign at once. */
  async ensureKey(): Promise<void> {
    await this.#orm.em.fork().transactional(async (em) => {
      await lockSigningKeys(em);
      if ((await em.count(SigningKeySchema, { alg: ACCESS_TOKEN_ALGORITHM })) === 0) await this.#insert(em, new Date());
    });
    await this.reload();
    // Fail at start-up, not at the first login, when the KEK ring cannot open the key that signs now.
    this.active();
  }

  /**
   * Adds a key that activates after the activation delay; returns its kid and when it starts signing. Refuses
   * when keys exist but none that signs now opens: a ring that cannot open the set would seal an unusable key.
   */
  async rotate(now = new Date()): Promise<{ kid: string; activatesAt: Date }> {
    if (this.#keys.length > 0 || this.#rejected.length > 0) this.active(now);
    const published = this.#published(now).length;
    if (published >= MAX_PUBLISHED_KEYS) {
      throw new Error(
        `${published} signing keys are published, the most a JWKS holds (${MAX_PUBLISHED_KEYS}): rotate again once older keys have expired`,
      );
    }
    const activatesAt = new Date(now.getTime() + this.#options.activationDelaySeconds * 1000);
    const row = await this.#orm.em.fork().transactional(async (em) => {
      await lockSigningKeys(em);
      return this.#insert(em, activatesAt);
    });
    await this.reload();
    return { kid: row.kid, activatesAt };
  }

  /** Deletes keys that no token still in circulation can have been signed with. Rejected rows stay, as evidence. */
  async prune(now = new Date()): Promise<string[]> {
    const doomed = this.#lifecycle(now)
      .filter((k) => k.unpublishAt !== undefined && k.unpublishAt <= now)
      .map((k) => k.key.row.kid);
    if (doomed.length > 0) await this.#orm.em.fork().nativeDelete(SigningKeySchema, { kid: { $in: doomed } });
    await this.reload();
    return doomed;
  }

  /** The key that signs now: the most recently activated one of those that passed the checks. */
  active(now = new Date()): ActiveKey {
    const current = this.#lifecycle(now).findLast((k) => k.key.row.activatesAt <= now);
    if (!current) throw this.#noActiveKey(now);
    const { row, privateKey } = current.key;
    return { kid: row.kid, alg: ACCESS_TOKEN_ALGORITHM, privateKey };
  }

  #noActiveKey(now: Date): Error {
    const unusable = this.#rejected.findLast((k) => k.row.activatesAt <= now);
    if (unusable?.undecryptable) {
      return new Error(`AUTH_KEK cannot decrypt signing key ${unusable.row.kid}: ${unusable.reason}`);
    }
    if (unusable) return new Error(`no signing key can sign: ${unusable.row.kid} is rejected (${unusable.reason})`);
    return new Error('no active signing key: run the auth service once or `npm run keys:rotate`');
  }

  /** Every key a verifier may meet: upcoming, active, and retired but with tokens still alive. */
  published(now = new Date()): JWK[] {
    return this.#published(now).map(({ row, publicJwk }) => ({ ...publicJwk, kid: row.kid, alg: row.alg, use: 'sig' }));
  }

  /** Verification keys for this service's own bearer routes: the published set, read locally. */
  resolver(): KeyResolver {
    return async (header) => {
      const key = this.#published().find((k) => k.row.kid === header.kid && k.row.alg === header.alg);
      if (!key) throw new Error(`no published key ${header.kid ?? '(none)'} for ${header.alg ?? '(none)'}`);
      return key.publicKey;
    };
  }

  #published(now = new Date()): OpenedKey[] {
    return this.#lifecycle(now)
      .filter((k) => k.unpublishAt === undefined || k.unpublishAt > now)
      .map((k) => k.key);
  }

  /** Keys ordered by activation, each with the moment it may leave the JWKS (undefined: still signing or upcoming). */
  #lifecycle(now: Date): { key: OpenedKey; unpublishAt?: Date }[] {
    // Only keys that passed the checks take part: a planted row can neither sign nor retire a genuine key early.
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
      privateJwkSealed: this.#options.kek.seal(privateJwk, kid),
      createdAt: new Date(),
      activatesAt,
    });
    await em.flush();
    return row;
  }
}

/** Serialises the writers of the key set (start-up, rotation, rewrap) across replicas and commands. */
export const lockSigningKeys = (em: EntityManager) =>
  em.execute(`select pg_advisory_xact_lock(hashtext('auth:signing-keys'))`);

/** The sealed private key and the stored public key are what the checks vouched for; anything else may change. */
const sameMaterial = (a: SigningKey, b: SigningKey) =>
  Buffer.from(a.privateJwkSealed).equals(Buffer.from(b.privateJwkSealed)) &&
  JSON.stringify(a.publicJwk) === JSON.stringify(b.publicJwk);

const P256 = { kty: 'EC', crv: 'P-256' } as const;

/**
 * Opens a row's private key and derives its public key from the private scalar alone: the x and y stored
 * beside `d` in the sealed JWK are not trusted (Node would import a mismatched pair as it is). The row passes
 * when the derived key's thumbprint is the kid and the stored public JWK is that same key.
 */
async function openKey(kek: KekRing, row: SigningKey): Promise<OpenedKey | RejectedKey> {
  const reject = (reason: string, undecryptable = false): RejectedKey => ({ row, reason, undecryptable });
  let plaintext: Buffer;
  try {
    plaintext = kek.unseal(Buffer.from(row.privateJwkSealed), row.kid);
  } catch (err) {
    if (err instanceof UnsealError) return reject(`its private key ${err.message}`, true);
    throw err;
  }
  let publicJwk: JWK;
  let privateKey: KeyObject;
  try {
    const privateJwk = JSON.parse(plaintext.toString('utf8')) as JWK;
    if (privateJwk.kty !== P256.kty || privateJwk.crv !== P256.crv || typeof privateJwk.d !== 'string') {
      return reject('its private key is not a P-256 key');
    }
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateJwk.d, 'base64url'));
    const point = ecdh.getPublicKey();
    publicJwk = {
      ...P256,
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    };
    privateKey = createPrivateKey({ key: { ...publicJwk, d: privateJwk.d }, format: 'jwk' });
  } catch {
    return reject('its private key is not a valid JWK');
  } finally {
    plaintext.fill(0);
  }
  if ((await calculateJwkThumbprint(publicJwk)) !== row.kid) {
    return reject('the thumbprint of the public key derived from its private key is not its kid');
  }
  const stored = row.publicJwk;
  if (
    stored.kty !== publicJwk.kty ||
    stored.crv !== publicJwk.crv ||
    stored.x !== publicJwk.x ||
    stored.y !== publicJwk.y
  ) {
    return reject('its stored public key is not the one derived from its private key');
  }
  return { row, privateKey, publicKey: createPublicKey(privateKey), publicJwk };
}

/** The key set as every replica and the key commands build it. */
export const signingKeysFor = (
  orm: MikroORM,
  kek: KekRing,
  config: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: number; ACCESS_TOKEN_TTL_SECONDS: number },
  logger: Logger,
) =>
  new SigningKeys(orm, {
    kek,
    logger,
    activationDelaySeconds: config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS,
    tokenLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });

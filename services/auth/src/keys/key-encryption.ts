/**
 * Sealing secrets at rest (private signing keys, session secrets) with the key-encryption key ring:
 * AES-256-GCM, a fresh 96-bit nonce per seal, and associated data naming what the value belongs to (a key id,
 * a session) so that a sealed value cannot be moved onto another row.
 *
 * The ring is AUTH_KEK, which seals everything, and, while a KEK rotation rolls out, AUTH_KEK_PREVIOUS, which
 * only opens. Every value names the KEK that sealed it, so opening never guesses:
 *   v2: 0x02 | KEK id (8) | nonce (12) | tag (16) | ciphertext   associated data: the first 9 bytes, then the context
 *   v1: 0x01 | nonce (12) | tag (16) | ciphertext                 associated data: the context; no KEK id, so each
 *                                                                 KEK of the ring is tried (values of earlier versions)
 * The KEK id is the first 8 bytes of the KEK's SHA-256: `echo "$AUTH_KEK" | base64 -d | sha256sum | cut -c1-16`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const V1 = 1;
const V2 = 2;
const ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const V1_HEADER = 1;
const V2_HEADER = 1 + ID_BYTES;

/** Why a sealed value did not open: not a sealed value, sealed by a KEK the ring lacks, or altered. */
export type UnsealFailure = 'unknown_format' | 'unknown_kek' | 'not_authentic';

export class UnsealError extends Error {
  override readonly name = 'UnsealError';
  readonly code: UnsealFailure;

  constructor(code: UnsealFailure, message: string) {
    super(message);
    this.code = code;
  }
}

/** The associated data of a session's sealed secret. A signing key's is its kid. */
export const sessionSecretContext = (sessionId: string) => `session:${sessionId}`;

interface Kek {
  /** The variable it came from, for messages. */
  name: 'AUTH_KEK' | 'AUTH_KEK_PREVIOUS';
  id: Buffer;
  key: Buffer;
}

const kekOf = (name: Kek['name'], key: Buffer): Kek => {
  if (key.length !== 32) throw new TypeError(`${name} must be 32 bytes`);
  return { name, key, id: createHash('sha256').update(key).digest().subarray(0, ID_BYTES) };
};

export class KekRing {
  readonly #current: Kek;
  readonly #previous: Kek | undefined;

  constructor(current: Buffer, previous?: Buffer) {
    this.#current = kekOf('AUTH_KEK', current);
    this.#previous = previous === undefined ? undefined : kekOf('AUTH_KEK_PREVIOUS', previous);
    if (this.#previous?.id.equals(this.#current.id)) {
      throw new TypeError('AUTH_KEK_PREVIOUS must differ from AUTH_KEK');
    }
  }

  /** The KEK ids of the ring (hex), to say in logs which KEK a replica runs with without revealing it. */
  get ids(): { current: string; previous?: string } {
    const current = this.#current.id.toString('hex');
    return this.#previous ? { current, previous: this.#previous.id.toString('hex') } : { current };
  }

  /** Seals with the current KEK, in the current format. */
  seal(plaintext: Buffer, context: string): Buffer {
    const header = Buffer.concat([Buffer.of(V2), this.#current.id]);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, nonce);
    cipher.setAAD(Buffer.concat([header, Buffer.from(context, 'utf8')]));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, nonce, cipher.getAuthTag(), ciphertext]);
  }

  /** Opens a value with the KEK that sealed it; throws `UnsealError` when no KEK of the ring does. */
  unseal(sealed: Buffer, context: string): Buffer {
    const version = sealed[0];
    if (version === V2 && sealed.length >= V2_HEADER + NONCE_BYTES + TAG_BYTES) {
      const id = sealed.subarray(1, V2_HEADER);
      const kek = this.#keks().find((k) => k.id.equals(id));
      if (!kek) {
        throw new UnsealError(
          'unknown_kek',
          `was sealed with KEK ${id.toString('hex')}, which is not in the ring (${this.#describe()})`,
        );
      }
      const opened = open(kek.key, sealed, V2_HEADER, Buffer.concat([sealed.subarray(0, V2_HEADER), utf8(context)]));
      if (!opened) throw new UnsealError('not_authentic', `does not open under ${kek.name}: it was altered`);
      return opened;
    }
    if (version === V1 && sealed.length >= V1_HEADER + NONCE_BYTES + TAG_BYTES) {
      for (const kek of this.#keks()) {
        const opened = open(kek.key, sealed, V1_HEADER, utf8(context));
        if (opened) return opened;
      }
      throw new UnsealError(
        'not_authentic',
        `was sealed in format v1 and opens under no KEK of the ring (${this.#describe()})`,
      );
    }
    throw new UnsealError('unknown_format', 'is not a sealed value of a known format');
  }

  /** Whether a value is already sealed as `seal` would seal it now (the rewrap leaves those alone). */
  isCurrent(sealed: Buffer): boolean {
    return sealed[0] === V2 && sealed.subarray(1, V2_HEADER).equals(this.#current.id);
  }

  #keks(): Kek[] {
    return this.#previous ? [this.#current, this.#previous] : [this.#current];
  }

  #describe(): string {
    const { current, previous } = this.ids;
    return `AUTH_KEK ${current}, AUTH_KEK_PREVIOUS ${previous ?? 'not set'}`;
  }
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** The plaintext, or undefined when the tag does not check out under this key. */
function open(key: Buffer, sealed: Buffer, headerBytes: number, associatedData: Buffer): Buffer | undefined {
  const nonceEnd = headerBytes + NONCE_BYTES;
  const tagEnd = nonceEnd + TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(headerBytes, nonceEnd));
  decipher.setAAD(associatedData);
  decipher.setAuthTag(sealed.subarray(nonceEnd, tagEnd));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(tagEnd)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** The ring as the service and its commands build it from their configuration. */
export const kekRingFor = (config: { AUTH_KEK: Buffer; AUTH_KEK_PREVIOUS?: Buffer | undefined }) =>
  new KekRing(config.AUTH_KEK, config.AUTH_KEK_PREVIOUS);

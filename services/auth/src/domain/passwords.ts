/**
 * Password hashing policy: argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1) unless configured
 * higher, over the password's NFKC form, so that one passphrase typed on two keyboards (`é` as one code
 * point, or `e` and a combining accent) is one password. A dummy hash lets a login for an unknown email cost
 * the same as one for a known email.
 */
import { hash, type Options, parseOptions, verify } from '@node-rs/argon2';

export interface PasswordHasherOptions {
  memoryCostKib: number;
  timeCost: number;
}

/** A match says whether the stored hash should be replaced by `hash(password)` now that we hold the password. */
type PasswordCheck = { ok: false } | { ok: true; rehash: boolean };

export interface PasswordHasher {
  /** Hashes the password's NFKC form. */
  hash(password: string): Promise<string>;
  /**
   * Checks the password's NFKC form and, for a hash made before passwords were normalised, its raw form.
   * `rehash` when the hash was made from the raw form or with weaker parameters than the current policy.
   * With `stored` undefined it burns the same time and does not match.
   */
  verify(stored: string | undefined, password: string): Promise<PasswordCheck>;
}

/** The form a password is checked, counted and hashed in (NFKC also folds full-width letters and ligatures). */
export const normalizePassword = (password: string): string => password.normalize('NFKC');

// Algorithm.Argon2id; the enum is `const` in the package's typings, which isolated modules cannot read.
const ARGON2ID = 2 as NonNullable<Options['algorithm']>;
const NO_MATCH: PasswordCheck = { ok: false };

export async function createPasswordHasher({
  memoryCostKib,
  timeCost,
}: PasswordHasherOptions): Promise<PasswordHasher> {
  const options: Options = { algorithm: ARGON2ID, memoryCost: memoryCostKib, timeCost, parallelism: 1 };
  const dummy = await hash('dummy password used to equalise login timing', options);
  const weakerThanPolicy = (stored: string) => {
    try {
      const used = parseOptions(stored);
      return used.algorithm !== ARGON2ID || used.memoryCost < memoryCostKib || used.timeCost < timeCost;
    } catch {
      return true;
    }
  };
  return {
    hash: (password) => hash(normalizePassword(password), options),
    async verify(stored, password) {
      const matches = (candidate: string) => verify(stored ?? dummy, candidate).catch(() => false);
      const normalized = normalizePassword(password);
      if (await matches(normalized)) {
        return stored === undefined ? NO_MATCH : { ok: true, rehash: weakerThanPolicy(stored) };
      }
      // Hashes made before normalisation hold the raw string; only a password NFKC changes can differ. Tried
      // against the dummy too, so that a wrong password and an unknown email still cost the same.
      if (normalized !== password && (await matches(password))) {
        return stored === undefined ? NO_MATCH : { ok: true, rehash: true };
      }
      return NO_MATCH;
    },
  };
}

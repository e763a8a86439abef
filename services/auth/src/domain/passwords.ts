/**
 * Password hashing policy: argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1) unless configured
 * higher. A dummy hash lets a login for an unknown email cost the same as one for a known email.
 */
import { hash, type Options, parseOptions, verify } from '@node-rs/argon2';

export interface PasswordHasherOptions {
  memoryCostKib: number;
  timeCost: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password; with `stored` undefined it burns the same time and returns false. */
  verify(stored: string | undefined, password: string): Promise<boolean>;
  /** True when a stored hash was made with weaker parameters than the current policy. */
  needsRehash(stored: string): boolean;
}

// Algorithm.Argon2id; the enum is `const` in the package's typings, which isolated modules cannot read.
const ARGON2ID = 2 as NonNullable<Options['algorithm']>;

export async function createPasswordHasher({
  memoryCostKib,
  timeCost,
}: PasswordHasherOptions): Promise<PasswordHasher> {
  const options: Options = { algorithm: ARGON2ID, memoryCost: memoryCostKib, timeCost, parallelism: 1 };
  const dummy = await hash('dummy password used to equalise login timing', options);
  return {
    hash: (password) => hash(password, options),
    async verify(stored, password) {
      const ok = await verify(stored ?? dummy, password).catch(() => false);
      return stored !== undefined && ok;
    },
    needsRehash(stored) {
      try {
        const used = parseOptions(stored);
        return used.algorithm !== ARGON2ID || used.memoryCost < memoryCostKib || used.timeCost < timeCost;
      } catch {
        return true;
      }
    },
  };
}

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seal, unseal } from '../src/keys/key-encryption.ts';

describe('sealing private keys with the key-encryption key', () => {
  const kek = randomBytes(32);
  const secret = Buffer.from('{"kty":"EC","d":"private"}');

  it('round-trips, and each seal is different (fresh nonce)', () => {
    const a = seal(kek, secret, 'kid-1');
    const b = seal(kek, secret, 'kid-1');
    expect(a.equals(b)).toBe(false);
    expect(unseal(kek, a, 'kid-1').equals(secret)).toBe(true);
  });

  it('refuses another KEK, another key id, and any flipped bit', () => {
    const sealed = seal(kek, secret, 'kid-1');
    expect(() => unseal(randomBytes(32), sealed, 'kid-1')).toThrow();
    expect(() => unseal(kek, sealed, 'kid-2')).toThrow();
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    expect(() => unseal(kek, flipped, 'kid-1')).toThrow();
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KekRing, UnsealError } from '../src/keys/key-encryption.ts';
import { sealV1 } from './support/auth-restarts.ts';

const failureOf = (open: () => unknown) => {
  try {
    open();
  } catch (err) {
    return err instanceof UnsealError ? err.code : err;
  }
  return 'opened';
};

describe('sealing secrets with the key-encryption key ring', () => {
  const kek = randomBytes(32);
  const secret = Buffer.from('{"kty":"EC","d":"private"}');

  it('round-trips, each seal is different (fresh nonce), and the value names the KEK that sealed it', () => {
    const ring = new KekRing(kek);
    const a = ring.seal(secret, 'kid-1');
    const b = ring.seal(secret, 'kid-1');
    expect(a.equals(b)).toBe(false);
    expect(ring.unseal(a, 'kid-1').equals(secret)).toBe(true);
    const kekId = createHash('sha256').update(kek).digest().subarray(0, 8);
    expect(a[0]).toBe(2);
    expect(a.subarray(1, 9).equals(kekId)).toBe(true);
    expect(ring.ids.current).toBe(kekId.toString('hex'));
    expect(ring.isCurrent(a)).toBe(true);
  });

  it('refuses another KEK, another context, any flipped bit, and a KEK id rewritten onto the value', () => {
    const sealed = new KekRing(kek).seal(secret, 'kid-1');
    expect(failureOf(() => new KekRing(randomBytes(32)).unseal(sealed, 'kid-1'))).toBe('unknown_kek');
    expect(failureOf(() => new KekRing(kek).unseal(sealed, 'kid-2'))).toBe('not_authentic');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    expect(failureOf(() => new KekRing(kek).unseal(flipped, 'kid-1'))).toBe('not_authentic');
    expect(failureOf(() => new KekRing(kek).unseal(Buffer.from('{"kty":"EC"}'), 'kid-1'))).toBe('unknown_format');
  });

  it('during a KEK rotation: seals with the current KEK, opens values of the previous one by their id', () => {
    const next = randomBytes(32);
    const old = new KekRing(kek).seal(secret, 'kid-1');
    const ring = new KekRing(next, kek);
    expect(ring.unseal(old, 'kid-1').equals(secret)).toBe(true);
    expect(ring.isCurrent(old)).toBe(false);
    const resealed = ring.seal(secret, 'kid-1');
    expect(ring.isCurrent(resealed)).toBe(true);
    expect(failureOf(() => new KekRing(kek).unseal(resealed, 'kid-1'))).toBe('unknown_kek');
    expect(new KekRing(next).unseal(resealed, 'kid-1').equals(secret)).toBe(true);
  });

  it('opens values of the first format, which name no KEK, with whichever KEK of the ring sealed them', () => {
    const next = randomBytes(32);
    const v1 = sealV1(kek, secret, 'kid-1');
    expect(new KekRing(kek).unseal(v1, 'kid-1').equals(secret)).toBe(true);
    expect(new KekRing(next, kek).unseal(v1, 'kid-1').equals(secret)).toBe(true);
    expect(new KekRing(next, kek).isCurrent(v1)).toBe(false);
    expect(failureOf(() => new KekRing(next).unseal(v1, 'kid-1'))).toBe('not_authentic');
    expect(failureOf(() => new KekRing(kek).unseal(v1, 'kid-2'))).toBe('not_authentic');
  });

  it('a ring whose previous KEK is its current one is a mistake, not a rotation', () => {
    expect(() => new KekRing(kek, Buffer.from(kek))).toThrow(/AUTH_KEK_PREVIOUS must differ from AUTH_KEK/);
  });
});

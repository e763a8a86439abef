import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthHarness, startAuth } from './support/harness.ts';

describe("a signing key's life: published, signing, retired, unpublished", () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('a new key is published at once, signs only after the delay, and the old one leaves the JWKS once its tokens expired', async () => {
    const keys = auth.service.keys;
    const { kid: oldKid } = keys.active();
    const t0 = new Date();
    const { kid: newKid, activatesAt } = await keys.rotate(t0);
    const kids = (at: Date) =>
      keys
        .published(at)
        .map((k) => k.kid)
        .sort();
    const delay = auth.config.SIGNING_KEY_ACTIVATION_DELAY_SECONDS * 1000;
    const ttl = auth.config.ACCESS_TOKEN_TTL_SECONDS * 1000;

    expect(activatesAt.getTime() - t0.getTime()).toBe(delay);
    // Before activation: both published, the old one signs.
    expect(kids(t0)).toEqual([oldKid, newKid].sort());
    expect(keys.active(new Date(activatesAt.getTime() - 1)).kid).toBe(oldKid);
    // From activation: the new one signs, the old one stays published for every token it signed.
    expect(keys.active(activatesAt).kid).toBe(newKid);
    expect(kids(new Date(activatesAt.getTime() + ttl))).toEqual([oldKid, newKid].sort());
    // Once those tokens (plus a margin for skew) have expired, only the new key is left.
    const gone = new Date(activatesAt.getTime() + ttl + 61_000);
    expect(kids(gone)).toEqual([newKid]);
    expect(await keys.prune(gone)).toEqual([oldKid]);
    const [{ n } = { n: -1 }] = await auth.sql('select count(*)::int as n from auth.signing_keys');
    expect(n).toBe(1);
  });
});

describe('a JWKS never grows past its bound', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  it('rotations in quick succession stop at the 16 keys a JWKS holds, with a message that says when to go on', async () => {
    const keys = auth.service.keys;
    const published = () => keys.published().length;
    while (published() < 16) await keys.rotate();
    await expect(keys.rotate()).rejects.toThrow(/16 signing keys are published.*once older keys have expired/);
    expect(published()).toBe(16);
    const jwks = await auth.client.GET('/.well-known/jwks.json');
    expect(jwks.data?.keys).toHaveLength(16);
  });
});

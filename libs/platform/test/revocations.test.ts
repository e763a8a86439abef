import { describe, expect, it } from 'vitest';
import { RevocationList } from '../src/auth/revocations.ts';

describe('the revocation list', () => {
  it('refuses every token of a revoked session until its last token would have expired', () => {
    let now = 1_000;
    const list = new RevocationList(() => now);
    list.revokeSession('s1', 1_900);
    expect(list.isRevoked({ sessionId: 's1', userId: 'u', issuedAt: 900 })).toBe(true);
    expect(list.isRevoked({ sessionId: 's2', userId: 'u', issuedAt: 900 })).toBe(false);
    now = 1_899;
    list.prune();
    expect(list.size).toBe(1);
    now = 1_901;
    list.prune();
    expect(list.size).toBe(0);
  });

  it("refuses a deleted user's tokens issued up to the deletion, and keeps the later expiry when told twice", () => {
    const list = new RevocationList(() => 0);
    list.revokeUser('u1', 500, 1_400);
    list.revokeUser('u1', 400, 1_200);
    expect(list.isRevoked({ sessionId: 's', userId: 'u1', issuedAt: 500 })).toBe(true);
    expect(list.isRevoked({ sessionId: 's', userId: 'u1', issuedAt: 501 })).toBe(false);
    expect(list.isRevoked({ sessionId: 's', userId: 'u2', issuedAt: 1 })).toBe(false);
  });
});

/**
 * Sessions and users whose access tokens must stop working before they expire. Fed by the auth service's
 * events; each entry lives only as long as the tokens it covers could.
 */
export interface RevocationCheck {
  sessionId: string;
  userId: string;
  issuedAt: number;
}

export class RevocationList {
  readonly #sessions = new Map<string, number>();
  /** userId → { revokedAt, until }: tokens issued at or before `revokedAt` are dead. */
  readonly #users = new Map<string, { revokedAt: number; until: number }>();
  readonly #now: () => number;

  constructor(now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#now = now;
  }

  /** `until`: the latest `exp` of any token of that session (epoch seconds). */
  revokeSession(sessionId: string, until: number): void {
    const current = this.#sessions.get(sessionId) ?? 0;
    if (until > current) this.#sessions.set(sessionId, until);
  }

  revokeUser(userId: string, revokedAt: number, until: number): void {
    const current = this.#users.get(userId);
    this.#users.set(userId, {
      revokedAt: Math.max(revokedAt, current?.revokedAt ?? 0),
      until: Math.max(until, current?.until ?? 0),
    });
  }

  isRevoked({ sessionId, userId, issuedAt }: RevocationCheck): boolean {
    if (this.#sessions.has(sessionId)) return true;
    const user = this.#users.get(userId);
    return user !== undefined && issuedAt <= user.revokedAt;
  }

  /** Drops entries whose tokens have all expired. */
  prune(): void {
    const now = this.#now();
    for (const [id, until] of this.#sessions) if (until < now) this.#sessions.delete(id);
    for (const [id, entry] of this.#users) if (entry.until < now) this.#users.delete(id);
  }

  get size(): number {
    return this.#sessions.size + this.#users.size;
  }
}

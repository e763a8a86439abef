import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * One login on one device. Its id is the `sid` claim of every access token issued for it. Refresh tokens
 * are never stored: each is an HMAC of (session id, counter) under the session's secret, and only the
 * current counter (and, for a short reuse interval, its predecessor) is accepted.
 */
export const SessionSchema = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    clientId: p.text(),
    /** 32 random bytes, sealed with the key-encryption key. */
    secretSealed: p.blob(),
    counter: p.integer().default(0),
    /** When `counter` last advanced: the reuse interval runs from here. */
    rotatedAt: p.datetime(),
    lastActiveAt: p.datetime(),
    createdAt: p.datetime(),
    /** Absolute end of the session. */
    expiresAt: p.datetime(),
    /** The latest `exp` of any access token issued for this session. */
    accessExpiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    revokedReason: p.text().nullable(),
  },
});

export type Session = InferEntity<typeof SessionSchema>;

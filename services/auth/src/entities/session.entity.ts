import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** One login on one device. Its id is the `sid` claim of every access token issued for it. */
export const SessionSchema = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
  },
});

export type Session = InferEntity<typeof SessionSchema>;

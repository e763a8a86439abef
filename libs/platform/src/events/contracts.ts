/**
 * The events the services exchange, as contracts: a type name (which is also the NATS subject, under an
 * optional namespace), a zod schema for its data, and the inferred type. Events travel as CloudEvents 1.0
 * in structured JSON mode.
 */
import { z } from 'zod';

export const SESSION_REVOKED = 'auth.session.revoked';
export const USER_DELETED = 'auth.user.deleted';

export const sessionRevokedData = z.object({
  sessionId: z.uuid(),
  userId: z.uuid(),
  reason: z.enum(['logout', 'logout_others', 'logout_global', 'refresh_token_reuse', 'password_changed']),
  /** Epoch seconds: the latest `exp` of any access token issued for the session. */
  tokensExpireBy: z.number().int(),
});
export type SessionRevoked = z.infer<typeof sessionRevokedData>;

export const userDeletedData = z.object({
  userId: z.uuid(),
  /** Epoch seconds: every token of the user was issued at or before this moment. */
  deletedAt: z.number().int(),
  /** Epoch seconds: the latest `exp` of any access token the user may still hold. */
  tokensExpireBy: z.number().int(),
});
export type UserDeleted = z.infer<typeof userDeletedData>;

export const eventContracts = {
  [SESSION_REVOKED]: sessionRevokedData,
  [USER_DELETED]: userDeletedData,
} as const;

export type EventType = keyof typeof eventContracts;
export type EventData<T extends EventType> = z.infer<(typeof eventContracts)[T]>;

/** The CloudEvents 1.0 envelope (structured mode). */
export const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json'),
  subject: z.string().optional(),
  data: z.unknown(),
});
export type CloudEvent<T = unknown> = Omit<z.infer<typeof cloudEventSchema>, 'data'> & { data: T };

/** Parses an envelope and its data against the contract of its type; throws a ZodError when either is off. */
export function parseEvent<T extends EventType>(type: T, payload: unknown): CloudEvent<EventData<T>> {
  const envelope = cloudEventSchema.parse(payload);
  if (envelope.type !== type) throw new Error(`expected a ${type} event, got ${envelope.type}`);
  return { ...envelope, data: eventContracts[type].parse(envelope.data) as EventData<T> };
}

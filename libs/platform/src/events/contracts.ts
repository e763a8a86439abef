/**
 * The events the services exchange, as contracts: a type name (which is also the NATS subject, under an
 * optional namespace), a zod schema for its data, and the inferred type. Events travel as CloudEvents 1.0
 * in structured JSON mode; `subject` is the id of the entity the event is about. `specs/events/asyncapi.yaml`
 * documents the same contracts for other teams, and a test holds the two together.
 *
 * Consumers parse with these schemas, which ignore members they do not know: a producer may add a member
 * without breaking anyone, and must never remove or change one.
 */
import { z } from 'zod';
import { codePointLength, plainText, withoutDefaults } from '../http/validate.ts';

export const USER_REGISTERED = 'auth.user.registered';
export const SESSION_REVOKED = 'auth.session.revoked';
export const USER_DELETED = 'auth.user.deleted';
export const USER_EMAIL_VERIFIED = 'auth.user.email_verified';
export const TODO_CREATED = 'todo.created';
export const TODO_UPDATED = 'todo.updated';
export const TODO_DELETED = 'todo.deleted';

const uuid = z.uuid();
const dateTime = z.iso.datetime({ offset: true });
const epochSeconds = z.number().int();

/** Personal data: carries the email address. Subject: the user id. */
export const userRegisteredData = z.object({
  userId: uuid,
  email: z.email(),
  createdAt: dateTime,
});
export type UserRegistered = z.infer<typeof userRegisteredData>;

/** Subject: the session id. */
export const sessionRevokedData = z.object({
  sessionId: uuid,
  userId: uuid,
  reason: z.enum(['logout', 'logout_others', 'logout_global', 'refresh_token_reuse', 'password_changed']),
  /** Epoch seconds: the latest `exp` of any access token issued for the session. */
  tokensExpireBy: epochSeconds,
});
export type SessionRevoked = z.infer<typeof sessionRevokedData>;

/** Subject: the user id. */
export const userDeletedData = z.object({
  userId: uuid,
  /** Epoch seconds: every token of the user was issued at or before this moment. */
  deletedAt: epochSeconds,
  /** Epoch seconds: the latest `exp` of any access token the user may still hold. */
  tokensExpireBy: epochSeconds,
});
export type UserDeleted = z.infer<typeof userDeletedData>;

/** Subject: the user id. The user proved the address theirs (a verification link); once per user. */
const userEmailVerifiedData = z.object({
  userId: uuid,
  verifiedAt: dateTime,
});

/** The instants PostgreSQL stores and prints with a four-digit year, and JavaScript writes as one. */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * An instant as a client writes it: RFC 3339 with an offset. Any number of fractional digits is RFC 3339;
 * 64 characters are more than any instant needs. In UTC it must fall in the years 0001 to 9999: an offset can
 * carry `0001-01-01T00:00:00+01:00` into year 0, which PostgreSQL refuses, or `9999-12-31T23:00:00-05:00` into
 * year 10000, which no keyset cursor or four-digit date-time can say.
 */
export const rfc3339DateTime = z.iso
  .datetime({ offset: true, message: 'Must be an RFC 3339 date-time.' })
  .superRefine(codePointLength({ min: 0, max: 64 }))
  .refine(
    (value) => {
      const at = Date.parse(value);
      // Not a date-time at all: the check above has said so.
      return Number.isNaN(at) || (at >= EARLIEST && at <= LATEST);
    },
    { message: 'Must be an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.' },
  );

/**
 * The todo, defined once: the fields its owner writes, with the rules a request must meet (text trimmed,
 * no control characters, lengths in code points) and what an omitted field becomes on create. The todo
 * service derives from it its table's columns, its request bodies and its responses; its events carry it.
 * Adding a field here (and to the migration and the specs) is all a new field takes.
 */
export const todoFields = {
  title: plainText({ min: 1, max: 500 }),
  description: plainText({ min: 0, max: 10_000 }).nullable().default(null),
  done: z.boolean().default(false),
  dueAt: rfc3339DateTime.nullable().default(null),
};

/** A todo as the todo API returns it and its events carry it. Personal data: whatever its owner wrote. */
export const todoRepresentation = z.object({
  id: uuid,
  ...withoutDefaults(todoFields),
  createdAt: dateTime,
  updatedAt: dateTime,
  version: z.number().int().min(1),
});
export type TodoRepresentation = z.infer<typeof todoRepresentation>;

/**
 * `todo.created` and `todo.updated`. Subject: the todo id. `version` orders the events of one todo: an event
 * whose version is not above the last one applied is stale (a redelivery) and is skipped.
 */
export const todoChangedData = z.object({
  ownerId: uuid,
  todoId: uuid,
  version: z.number().int().min(1),
  todo: todoRepresentation,
});
export type TodoChanged = z.infer<typeof todoChangedData>;

/**
 * `todo.deleted`. Subject: the todo id. The deletion is the todo's last change: its `version` is one above
 * the version the todo had. `reason` says whether its owner deleted it or the owner's account was deleted.
 */
export const todoDeletedData = z.object({
  ownerId: uuid,
  todoId: uuid,
  version: z.number().int().min(2),
  reason: z.enum(['deleted', 'owner_deleted']),
});
export type TodoDeleted = z.infer<typeof todoDeletedData>;

export const eventContracts = {
  [USER_REGISTERED]: userRegisteredData,
  [SESSION_REVOKED]: sessionRevokedData,
  [USER_DELETED]: userDeletedData,
  [USER_EMAIL_VERIFIED]: userEmailVerifiedData,
  [TODO_CREATED]: todoChangedData,
  [TODO_UPDATED]: todoChangedData,
  [TODO_DELETED]: todoDeletedData,
} as const;

export type EventType = keyof typeof eventContracts;
export type EventData<T extends EventType> = z.infer<(typeof eventContracts)[T]>;

/** The CloudEvents `subject` of each type: the id of the entity the event is about. */
export const eventSubject: { [T in EventType]: (data: EventData<T>) => string } = {
  [USER_REGISTERED]: (data) => data.userId,
  [SESSION_REVOKED]: (data) => data.sessionId,
  [USER_DELETED]: (data) => data.userId,
  [USER_EMAIL_VERIFIED]: (data) => data.userId,
  [TODO_CREATED]: (data) => data.todoId,
  [TODO_UPDATED]: (data) => data.todoId,
  [TODO_DELETED]: (data) => data.todoId,
};

export const isEventType = (type: string): type is EventType => Object.hasOwn(eventContracts, type);

/** The CloudEvents 1.0 envelope (structured mode). */
export const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  time: dateTime,
  datacontenttype: z.literal('application/json'),
  subject: z.string().min(1),
  data: z.unknown(),
});
export type CloudEvent<T = unknown> = Omit<z.infer<typeof cloudEventSchema>, 'data'> & { data: T };

/** An event of any known type, narrowed by `type`. */
export type KnownEvent = { [T in EventType]: Omit<CloudEvent<EventData<T>>, 'type'> & { type: T } }[EventType];

/** The broken contract of an event that cannot be processed: it goes to the dead-letter stream, not back. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/** Parses an envelope and its data against the contract of its type; throws a ContractViolation when either is off. */
export function parseEvent<T extends EventType>(type: T, payload: unknown): CloudEvent<EventData<T>> & { type: T } {
  const envelope = cloudEventSchema.safeParse(payload);
  if (!envelope.success) throw new ContractViolation(`not a CloudEvent: ${z.prettifyError(envelope.error)}`);
  if (envelope.data.type !== type) {
    throw new ContractViolation(`published on ${type} but typed ${envelope.data.type}`);
  }
  const data = eventContracts[type].safeParse(envelope.data.data);
  if (!data.success) throw new ContractViolation(`data breaks the ${type} contract: ${z.prettifyError(data.error)}`);
  return { ...envelope.data, type, data: data.data as EventData<T> };
}

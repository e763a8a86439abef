/**
 * JetStream streams and subjects. `EVENTS_NAMESPACE` prefixes both, so that environments (or parallel test
 * files) can share one NATS server without seeing each other's events. The streams are created by the
 * setup step (`setUpEvents`, run with the migrations), never by the services at run time.
 */
import type { EventType } from './contracts.ts';

export interface StreamDefinition {
  name: string;
  /** The subject filter the stream captures, e.g. `auth.>`. */
  subjects: string[];
  /** How long a message stays replayable. */
  maxAgeDays: number;
}

const prefix = (namespace: string) => (namespace ? `${namespace}.` : '');
const streamName = (namespace: string, name: string) =>
  `${namespace ? `${namespace.toUpperCase()}_` : ''}${name}`.replace(/[^A-Za-z0-9_-]/g, '_');

export const subjectOf = (namespace: string, type: EventType | string): string => `${prefix(namespace)}${type}`;

/** The event type a subject carries: the subject without the namespace. */
export const typeOfSubject = (namespace: string, subject: string): string =>
  namespace && subject.startsWith(`${namespace}.`) ? subject.slice(namespace.length + 1) : subject;

/** Days an event stays replayable: long enough for any consumer to catch up after an outage. */
const EVENT_RETENTION_DAYS = 7;

/** Everything the auth service publishes (`auth.>`). */
export const authEventsStream = (namespace: string): StreamDefinition => ({
  name: streamName(namespace, 'AUTH_EVENTS'),
  subjects: [`${prefix(namespace)}auth.>`],
  maxAgeDays: EVENT_RETENTION_DAYS,
});

/** Everything the todo service publishes (`todo.>`). */
export const todoEventsStream = (namespace: string): StreamDefinition => ({
  name: streamName(namespace, 'TODO_EVENTS'),
  subjects: [`${prefix(namespace)}todo.>`],
  maxAgeDays: EVENT_RETENTION_DAYS,
});

/**
 * Events a consumer could not process because they break their contract, kept for a person to look at:
 * `deadletter.<consuming service>.<original type>`, with the reason and the original headers.
 */
export const deadLetterStream = (namespace: string): StreamDefinition => ({
  name: streamName(namespace, 'DEAD_LETTERS'),
  subjects: [`${prefix(namespace)}deadletter.>`],
  maxAgeDays: 30,
});

export const deadLetterSubject = (namespace: string, consumingService: string, type: string): string =>
  `${prefix(namespace)}deadletter.${consumingService}.${type}`;

/**
 * JetStream streams and subjects. `EVENTS_NAMESPACE` prefixes both, so that environments (or parallel test
 * files) can share one NATS server without seeing each other's events.
 */
import { DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { EventType } from './contracts.ts';

export interface StreamDefinition {
  name: string;
  /** The subject filter the stream captures, e.g. `auth.>`. */
  subjects: string[];
}

const prefix = (namespace: string) => (namespace ? `${namespace}.` : '');

export const subjectOf = (namespace: string, type: EventType | string): string => `${prefix(namespace)}${type}`;

/** The stream of everything the auth service publishes. */
export function authEventsStream(namespace: string): StreamDefinition {
  return {
    name: `${namespace ? `${namespace.toUpperCase()}_` : ''}AUTH_EVENTS`.replace(/[^A-Za-z0-9_-]/g, '_'),
    subjects: [`${prefix(namespace)}auth.>`],
  };
}

/** Days an event stays replayable. Long enough for any consumer to catch up after an outage. */
const RETENTION_DAYS = 7;
/** Publishes carrying the same message id within this window are stored once (the outbox relies on it). */
const DUPLICATE_WINDOW_MS = 10 * 60 * 1000;

/** Creates the stream, or brings an existing one to this configuration. Idempotent; safe from every replica. */
export async function ensureStream(jsm: JetStreamManager, stream: StreamDefinition): Promise<void> {
  const config = {
    subjects: stream.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(RETENTION_DAYS * 24 * 3600 * 1000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  try {
    await jsm.streams.info(stream.name);
    await jsm.streams.update(stream.name, config);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await jsm.streams.add({ name: stream.name, ...config });
    } catch (addErr) {
      // Another replica created it a moment ago.
      if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
    }
  }
}

function isStreamNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: number; api_error?: { err_code?: number } };
  return (
    e?.name === 'StreamNotFoundError' || e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? '')
  );
}

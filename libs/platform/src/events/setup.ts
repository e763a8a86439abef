/**
 * The events half of a deployment's setup step: creates a service's streams and durable consumers, or
 * brings existing ones to this configuration. Run by `npm run migrate` (the compose migrate services, the
 * migration Jobs) with NATS credentials allowed to manage JetStream; the services themselves only publish
 * and consume, so their own NATS users need no such rights. Idempotent; safe to run from several places.
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import type { StreamDefinition } from './streams.ts';

/** Publishes carrying the same message id within this window are stored once (the outbox relies on it). */
const DUPLICATE_WINDOW_MS = 10 * 60 * 1000;

export interface DurableConsumerDefinition {
  stream: StreamDefinition;
  durable: string;
  /** The one subject it receives. */
  filterSubject: string;
  /** How long the server waits for an acknowledgement before delivering again. */
  ackWaitMs?: number;
}

/** What a service needs to exist in JetStream before it starts. */
export interface EventTopology {
  streams: StreamDefinition[];
  consumers: DurableConsumerDefinition[];
}

export interface SetupReport {
  streams: string[];
  consumers: string[];
}

function streamConfig(stream: StreamDefinition, replicas: number): Partial<StreamConfig> {
  return {
    subjects: stream.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(stream.maxAgeDays * 24 * 3600 * 1000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  };
}

function consumerConfig(consumer: DurableConsumerDefinition): Partial<ConsumerConfig> {
  return {
    durable_name: consumer.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: consumer.filterSubject,
    ack_wait: nanos(consumer.ackWaitMs ?? 30_000),
    // Never give up on an event: a transient failure is retried (with the consumer's backoff) until it works,
    // and an event that can never work is moved to the dead-letter stream by the consumer itself.
    max_deliver: -1,
    max_ack_pending: 256,
  };
}

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; message?: string; api_error?: { err_code?: number } };
  return e?.name === 'StreamNotFoundError' || e?.api_error?.err_code === 10059 || /not found/i.test(e?.message ?? '');
};

async function ensureStream(jsm: JetStreamManager, stream: StreamDefinition, replicas: number): Promise<void> {
  const config = streamConfig(stream, replicas);
  try {
    await jsm.streams.info(stream.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ name: stream.name, ...config });
      return;
    } catch (addErr) {
      // Another setup run created it a moment ago; fall through to the update.
      if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
    }
  }
  await jsm.streams.update(stream.name, config);
}

async function ensureConsumer(jsm: JetStreamManager, consumer: DurableConsumerDefinition): Promise<void> {
  const config = consumerConfig(consumer);
  try {
    await jsm.consumers.info(consumer.stream.name, consumer.durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(consumer.stream.name, config);
      return;
    } catch (addErr) {
      if (!/already (in use|exists)/i.test((addErr as Error).message)) throw addErr;
    }
  }
  const { durable_name: _, deliver_policy: __, ...changeable } = config;
  await jsm.consumers.update(consumer.stream.name, consumer.durable, changeable);
}

export async function setUpEvents(
  nc: NatsConnection,
  topology: EventTopology,
  { replicas = 1 }: { replicas?: number } = {},
): Promise<SetupReport> {
  const jsm = await jetstreamManager(nc);
  for (const stream of topology.streams) await ensureStream(jsm, stream, replicas);
  for (const consumer of topology.consumers) await ensureConsumer(jsm, consumer);
  return {
    streams: topology.streams.map((s) => s.name),
    consumers: topology.consumers.map((c) => `${c.stream.name}/${c.durable}`),
  };
}

/**
 * Events in tests: create a test's streams and durable consumers as the setup step does before a deployment
 * starts, publish as another service would, and read back what a stream holds.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, connect, headers as natsHeaders } from '@nats-io/transport-node';
import { type EventTopology, setUpEvents } from '@todo/platform/events';

/** `options`: credentials allowed to manage JetStream, when the server requires them. */
export async function provisionEvents(
  natsUrl: string,
  topology: EventTopology,
  options: Omit<ConnectionOptions, 'servers'> = {},
): Promise<void> {
  const nc = await connect({ servers: natsUrl, ...options });
  try {
    await setUpEvents(nc, topology);
  } finally {
    await nc.close();
  }
}

export interface StoredMessage {
  seq: number;
  subject: string;
  headers: Record<string, string[]>;
  /** The payload parsed as JSON, or the raw text when it is not JSON. */
  body: unknown;
}

/** Every message the stream holds now, in stream order. */
export async function readStream(
  natsUrl: string,
  stream: string,
  options: Omit<ConnectionOptions, 'servers'> = {},
): Promise<StoredMessage[]> {
  const nc = await connect({ servers: natsUrl, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const out: StoredMessage[] = [];
    if (state.messages === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    for await (const msg of messages) {
      const text = msg.string();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      const headers: Record<string, string[]> = {};
      for (const [key, values] of msg.headers ?? []) headers[key] = values;
      out.push({ seq: msg.seq, subject: msg.subject, headers, body });
      if (msg.seq >= state.last_seq) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}

/** Publishes raw bytes to a subject through JetStream, as a (possibly misbehaving) producer would. */
export async function publishRaw(
  natsUrl: string,
  subject: string,
  payload: string,
  options: { msgID?: string; headers?: Record<string, string>; connection?: Omit<ConnectionOptions, 'servers'> } = {},
): Promise<number> {
  const nc = await connect({ servers: natsUrl, ...options.connection });
  try {
    const h = natsHeaders();
    for (const [key, value] of Object.entries(options.headers ?? {})) h.set(key, value);
    const ack = await jetstream(nc).publish(subject, payload, {
      headers: h,
      ...(options.msgID ? { msgID: options.msgID } : {}),
    });
    return ack.seq;
  } finally {
    await nc.close();
  }
}

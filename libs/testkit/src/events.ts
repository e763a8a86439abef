/**
 * Events in tests: create a test's streams and durable consumers as the setup step does before a deployment
 * starts, publish as another service would, and read back what a stream holds.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, connect, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { type EventTopology, setUpEvents } from '@todo/platform/events';

/** `options`: credentials allowed to manage JetStream, when the server requires them. */
type Credentials = Omit<ConnectionOptions, 'servers'>;

/** Runs `fn` on a connection to `natsUrl`, closed afterwards. */
export async function withNats<T>(natsUrl: string, options: Credentials, fn: (nc: NatsConnection) => Promise<T>) {
  const nc = await connect({ servers: natsUrl, ...options });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

export const provisionEvents = (natsUrl: string, topology: EventTopology, options: Credentials = {}) =>
  withNats(natsUrl, options, (nc) => setUpEvents(nc, topology));

export interface StoredMessage {
  seq: number;
  subject: string;
  headers: Record<string, string[]>;
  /** The payload parsed as JSON, or the raw text when it is not JSON. */
  body: unknown;
}

/** Every message the stream holds now, in stream order. */
export const readStream = (natsUrl: string, stream: string, options: Credentials = {}) =>
  withNats(natsUrl, options, async (nc) => {
    const { state } = await (await jetstreamManager(nc)).streams.info(stream);
    const out: StoredMessage[] = [];
    if (state.messages === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    for await (const msg of messages) {
      let body: unknown = msg.string();
      try {
        body = msg.json();
      } catch {}
      out.push({ seq: msg.seq, subject: msg.subject, headers: Object.fromEntries(msg.headers ?? []), body });
      if (msg.seq >= state.last_seq) break;
    }
    await messages.close();
    return out;
  });

/** Publishes raw bytes to a subject through JetStream, as a (possibly misbehaving) producer would. */
export const publishRaw = (
  natsUrl: string,
  subject: string,
  payload: string,
  options: { msgID?: string; headers?: Record<string, string>; connection?: Credentials } = {},
) =>
  withNats(natsUrl, options.connection ?? {}, async (nc) => {
    const headers = natsHeaders();
    for (const [key, value] of Object.entries(options.headers ?? {})) headers.set(key, value);
    const ack = await jetstream(nc).publish(subject, payload, {
      headers,
      ...(options.msgID && { msgID: options.msgID }),
    });
    return ack.seq;
  });

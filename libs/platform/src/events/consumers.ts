/**
 * Consuming events. Two shapes:
 * - `startDurableConsumer`: a named consumer shared by every replica of a service (each event handled by
 *   one of them), acknowledged only after the handler's effect committed, redelivered with backoff when the
 *   handler fails, terminated (and logged) when the event breaks its contract.
 * - `followEvents`: an ordered, ephemeral consumer per process that sees every event from a point in time,
 *   for state each replica keeps in memory (the revocation list).
 */
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ZodError } from 'zod';
import type { Logger } from '../logger.ts';
import { type CloudEvent, type EventData, type EventType, parseEvent } from './contracts.ts';
import { type StreamDefinition, subjectOf } from './streams.ts';

export interface RunningConsumer {
  /** Resolves once every event that existed when the consumer started has been handled. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

type Handler<T extends EventType> = (event: CloudEvent<EventData<T>>) => Promise<void> | void;

function typeOf(msg: JsMsg, namespace: string): string {
  return namespace && msg.subject.startsWith(`${namespace}.`) ? msg.subject.slice(namespace.length + 1) : msg.subject;
}

export interface DurableConsumerOptions<T extends EventType> {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: StreamDefinition;
  namespace: string;
  durable: string;
  type: T;
  logger: Logger;
  handle: Handler<T>;
  maxDeliver?: number;
  ackWaitMs?: number;
}

export async function startDurableConsumer<T extends EventType>(
  options: DurableConsumerOptions<T>,
): Promise<RunningConsumer> {
  const { js, jsm, stream, namespace, durable, type, logger, handle } = options;
  const maxDeliver = options.maxDeliver ?? 20;
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subjectOf(namespace, type),
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_deliver: maxDeliver,
  };
  try {
    await jsm.consumers.add(stream.name, config);
  } catch {
    await jsm.consumers.update(stream.name, durable, config);
  }
  return run(await js.consumers.get(stream.name, durable), async (msg) => {
    try {
      const event = parseEvent(type, msg.json());
      await handle(event);
      await msg.ackAck().catch(() => msg.ack());
    } catch (err) {
      if (err instanceof ZodError || err instanceof SyntaxError) {
        logger.error({ err, subject: msg.subject, seq: msg.seq }, 'event breaks its contract; dropped');
        msg.term();
      } else {
        const delayMs = Math.min(1_000 * 2 ** (msg.info.deliveryCount - 1), 60_000);
        const last = msg.info.deliveryCount >= maxDeliver;
        logger[last ? 'error' : 'warn'](
          { err, subject: msg.subject, attempt: msg.info.deliveryCount },
          last ? 'event handling failed for the last time' : 'event handling failed; will retry',
        );
        msg.nak(delayMs);
      }
    }
  });
}

export interface FollowOptions {
  js: JetStreamClient;
  stream: StreamDefinition;
  namespace: string;
  types: EventType[];
  /** Replay from here, so a process that starts late still learns what happened recently. */
  since: Date;
  logger: Logger;
  handle: (type: EventType, event: CloudEvent) => void;
}

export async function followEvents(options: FollowOptions): Promise<RunningConsumer> {
  const { js, stream, namespace, types, since, logger, handle } = options;
  // No server-side filter: several filter subjects need NATS 2.10, and the stream holds little else.
  const consumer = await js.consumers.get(stream.name, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: since.toISOString(),
  });
  const wanted = new Set<string>(types);
  return run(consumer, async (msg) => {
    const type = typeOf(msg, namespace) as EventType;
    try {
      if (wanted.has(type)) handle(type, parseEvent(type, msg.json()));
    } catch (err) {
      logger.error({ err, subject: msg.subject, seq: msg.seq }, 'event breaks its contract; ignored');
    }
  });
}

/** Consumes one message at a time with `onMessage`, telling when the backlog present at start is done. */
async function run(consumer: Consumer, onMessage: (msg: JsMsg) => Promise<void>): Promise<RunningConsumer> {
  const pendingAtStart = (await consumer.info()).num_pending;
  const messages = await consumer.consume({ max_messages: 64 });
  let markCaughtUp: () => void = () => undefined;
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });
  if (pendingAtStart === 0) markCaughtUp();
  const loop = (async () => {
    for await (const msg of messages) {
      await onMessage(msg);
      if (msg.info.pending === 0) markCaughtUp();
    }
  })();
  return {
    caughtUp,
    async stop() {
      await messages.close();
      await loop;
    },
  };
}

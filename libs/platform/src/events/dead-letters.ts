/**
 * Events that break their contract are not retried (they never will parse) and not dropped: they go to
 * the dead-letter stream with the reason and the original headers, for a person to look at, and the
 * consumer moves on to the next one.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { deadLetterSubject, typeOfSubject } from './streams.ts';

/** The message that could not be processed, as a consumer or a follower received it. */
export interface OriginalMessage {
  stream: string;
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs | undefined;
}

export interface DeadLetterOptions {
  namespace: string;
  /** The consuming service, which names the dead-letter subject (`deadletter.<service>.<type>`). */
  service: string;
  /** The consumer that gave up on it: the same name in every replica, as it is part of the message id. */
  consumer: string;
  reason: string;
}

/** Header values are one line of printable text. */
const oneLine = (text: string, max = 1_000) =>
  text
    .replace(/[\r\n\t]+/g, ' ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .slice(0, max);

/**
 * Publishes a copy of `msg` to the dead-letter stream, once per consumer that refused it. Its message id is
 * the consumer's name and the original's stream position (`<consumer>:<stream>:<seq>`), so that:
 * - several replicas of one consumer (every replica's follower, or a durable consumer's redelivery)
 *   dead-lettering the same event store it once (within the dead-letter stream's duplicate window);
 * - two consumers of one service that both read the event (the todo service's durable consumer and its
 *   revocation follower both read `auth.user.deleted`) each store their own copy, with their own
 *   `Dead-Letter-Consumer`. A consumer's refusal is its own fact: each one counts it in its
 *   `event_dead_letters_total` and skips the event, and its operators find it by its name. With one id for
 *   the event, whichever consumer came first would hide the other's, and which one that is is a race.
 */
export async function deadLetter(js: JetStreamClient, msg: OriginalMessage, options: DeadLetterOptions): Promise<void> {
  const h = headers();
  for (const [key, values] of msg.headers ?? []) {
    if (key.toLowerCase() === 'nats-msg-id') {
      for (const value of values) h.append('Dead-Letter-Original-Msg-Id', value);
    } else {
      for (const value of values) h.append(key, value);
    }
  }
  h.set('Dead-Letter-Reason', oneLine(options.reason));
  h.set('Dead-Letter-Stream', msg.stream);
  h.set('Dead-Letter-Sequence', String(msg.seq));
  h.set('Dead-Letter-Subject', msg.subject);
  h.set('Dead-Letter-Consumer', options.consumer);
  h.set('Dead-Letter-Time', new Date().toISOString());
  const type = typeOfSubject(options.namespace, msg.subject);
  await js.publish(deadLetterSubject(options.namespace, options.service, type), msg.data, {
    headers: h,
    msgID: `${options.consumer}:${msg.stream}:${msg.seq}`,
  });
}

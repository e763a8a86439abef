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
  /** The consumer that gave up on it. */
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
 * Publishes a copy of `msg` to the dead-letter stream. Its message id is the original's stream position,
 * so several replicas (or a redelivery) dead-lettering the same event store it once.
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
    msgID: `${msg.stream}:${msg.seq}`,
  });
}

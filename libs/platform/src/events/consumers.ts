/**
 * Consuming events, in two shapes, both as explicit pull loops that surface every failure:
 * - `startDurableConsumer`: a named consumer, created by the setup step and shared by every replica of a
 *   service (each event handled by one of them). An event is acknowledged only after its effect committed;
 *   a transient failure is retried with capped backoff for as long as it takes; an event that breaks its
 *   contract goes to the dead-letter stream and the next one is handled.
 * - `followStream`: each replica reads the whole stream itself from a point in time, for state it keeps in
 *   memory (the revocation list). It reads message by message by stream sequence (the read-only message-get
 *   API: no consumer on the server, so its NATS user needs no right to create, change or pull from one),
 *   remembers the next sequence to read, and after any failure (NATS restart, reconnect) goes on from
 *   there. It says how fresh it is: `health()`, a lag metric, and one error line when it stops catching up.
 * Both handle each event in a span that continues the producer's trace (`trace-context.ts`).
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import type { Broker } from './connection.ts';
import {
  type CloudEvent,
  ContractViolation,
  type EventData,
  type EventType,
  isEventType,
  type KnownEvent,
  parseEvent,
} from './contracts.ts';
import { deadLetter } from './dead-letters.ts';
import { type StreamDefinition, typeOfSubject } from './streams.ts';
import { type ConsumerSpan, traceConsume } from './trace-context.ts';

// --- metrics, one set per registry -------------------------------------------------------------------------

interface ConsumerMetrics {
  applied: Counter<'consumer'>;
  failures: Counter<'consumer'>;
  redeliveries: Counter<'consumer'>;
  deadLetters: Counter<'consumer'>;
  errors: Counter<'consumer'>;
  pending: Gauge<'consumer'>;
  lag: Gauge<'consumer'>;
  stale: Gauge<'consumer'>;
}

const metricsByRegistry = new WeakMap<Registry, ConsumerMetrics>();
const unregistered = () => ({ registers: [] as Registry[] });

function consumerMetrics(registry: Registry | undefined): ConsumerMetrics {
  const known = registry && metricsByRegistry.get(registry);
  if (known) return known;
  const registers = registry ? { registers: [registry] } : unregistered();
  const labelNames = ['consumer'] as const;
  const metrics: ConsumerMetrics = {
    applied: new Counter({
      name: 'events_applied_total',
      help: 'Events handled successfully.',
      labelNames,
      ...registers,
    }),
    failures: new Counter({
      name: 'event_handling_failures_total',
      help: 'Handler failures (database away…); each is retried with backoff.',
      labelNames,
      ...registers,
    }),
    redeliveries: new Counter({
      name: 'event_redeliveries_total',
      help: 'Events delivered again after a failure, a timeout or a lost acknowledgement.',
      labelNames,
      ...registers,
    }),
    deadLetters: new Counter({
      name: 'event_dead_letters_total',
      help: 'Events that broke their contract and went to the dead-letter stream.',
      labelNames,
      ...registers,
    }),
    errors: new Counter({
      name: 'event_consumer_errors_total',
      help: 'Failures to reach the consumer (NATS away, consumer missing, permission refused).',
      labelNames,
      ...registers,
    }),
    pending: new Gauge({
      name: 'event_consumer_pending_messages',
      help: 'Messages in the stream the consumer has not received yet, as of its last delivery.',
      labelNames,
      ...registers,
    }),
    lag: new Gauge({
      name: 'event_follower_lag_seconds',
      help: 'Seconds since the follower last confirmed it had read everything in its stream.',
      labelNames,
      ...registers,
    }),
    stale: new Gauge({
      name: 'event_follower_stale',
      help: '1 while the follower has not caught up for longer than its bound: its state may be missing events.',
      labelNames,
      ...registers,
    }),
  };
  if (registry) metricsByRegistry.set(registry, metrics);
  return metrics;
}

// --- shared loop plumbing ----------------------------------------------------------------------------------

/** A loop that can be woken from its backoff sleep and stopped while it waits for anything. */
class Loop {
  readonly #stop = new AbortController();

  get running(): boolean {
    return !this.#stop.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Sleeps, returning early when the loop stops. */
  async sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined);
  }

  /** The connection, or undefined if the loop stopped first. */
  async connection(broker: Broker): Promise<NatsConnection | undefined> {
    const stopped = new Promise<undefined>((resolve) => {
      if (this.#stop.signal.aborted) resolve(undefined);
      this.#stop.signal.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    return Promise.race([broker.connection.catch(() => undefined), stopped]);
  }
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Parses a message as the event its subject names; throws a ContractViolation when it is not one. */
function eventOf<T extends EventType>(msg: JsMsg | StoredMsg, type: T): CloudEvent<EventData<T>> & { type: T } {
  let payload: unknown;
  try {
    payload = msg.json();
  } catch (err) {
    throw new ContractViolation(`not JSON: ${describe(err)}`);
  }
  return parseEvent(type, payload);
}

// --- durable consumers -------------------------------------------------------------------------------------

export interface RunningConsumer {
  stop(): Promise<void>;
}

export interface DurableConsumerOptions<T extends EventType> {
  broker: Broker;
  stream: StreamDefinition;
  namespace: string;
  /** The consuming service: it names the dead-letter subject. */
  service: string;
  /** The durable consumer's name, as the setup step created it. */
  durable: string;
  type: T;
  logger: Logger;
  registry?: Registry | undefined;
  /** Must be idempotent: an event can arrive more than once. Throwing means "retry later". */
  handle: (event: CloudEvent<EventData<T>>) => Promise<void>;
  /** Longest wait before retrying an event whose handler failed. */
  maxRetryDelayMs?: number;
}

export function startDurableConsumer<T extends EventType>(options: DurableConsumerOptions<T>): RunningConsumer {
  const { broker, stream, namespace, service, durable, type, logger, handle } = options;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
  const metrics = consumerMetrics(options.registry);
  const label = { consumer: durable };
  const log = logger.child({ consumer: durable });
  const loop = new Loop();
  let batch: ConsumerMessages | undefined;

  async function process(js: JetStreamClient, msg: JsMsg): Promise<void> {
    const deliveries = msg.info.deliveryCount;
    if (deliveries > 1) metrics.redeliveries.inc(label);
    metrics.pending.set(label, msg.info.pending);
    const message = { type, subject: msg.subject, consumer: durable, headers: msg.headers };
    await traceConsume(message, (span) => settle(js, msg, deliveries, span));
  }

  /** Handles one message and acknowledges, naks or dead-letters it; never throws. */
  async function settle(js: JetStreamClient, msg: JsMsg, deliveries: number, span: ConsumerSpan): Promise<void> {
    let event: CloudEvent<EventData<T>>;
    try {
      event = eventOf(msg, type);
    } catch (err) {
      const reason = describe(err);
      span.failed(err);
      try {
        const original = {
          stream: msg.info.stream,
          seq: msg.seq,
          subject: msg.subject,
          data: msg.data,
          headers: msg.headers,
        };
        await deadLetter(js, original, { namespace, service, consumer: durable, reason });
        // No reason on the TERM: servers before 2.10.4 do not parse one and would not terminate the message.
        msg.term();
        metrics.deadLetters.inc(label);
        log.error({ subject: msg.subject, seq: msg.seq, reason }, 'event breaks its contract; moved to dead letters');
      } catch (publishErr) {
        log.error({ err: publishErr, seq: msg.seq, reason }, 'could not dead-letter an event; will try again');
        msg.nak(Math.min(1_000 * 2 ** (deliveries - 1), maxRetryDelayMs));
      }
      return;
    }
    try {
      await handle(event);
    } catch (err) {
      span.failed(err);
      metrics.failures.inc(label);
      const retryInMs = Math.min(1_000 * 2 ** (deliveries - 1), maxRetryDelayMs);
      // The first failures may be a blip; a long run of them is an outage someone must see.
      log[deliveries >= 5 ? 'error' : 'warn'](
        { err, eventId: event.id, attempt: deliveries, retryInMs },
        'event handling failed; will retry',
      );
      msg.nak(retryInMs);
      return;
    }
    metrics.applied.inc(label);
    // A lost acknowledgement only means a redelivery, which the handler shrugs off.
    await msg.ackAck().catch((err: unknown) => log.debug({ err, seq: msg.seq }, 'acknowledgement not confirmed'));
  }

  const running = (async () => {
    let failures = 0;
    while (loop.running) {
      try {
        const nc = await loop.connection(broker);
        if (!nc) break;
        const js = jetstream(nc, { checkAPI: false });
        const consumer = await js.consumers.get(stream.name, durable);
        while (loop.running) {
          batch = await consumer.fetch({ max_messages: 16, expires: 5_000 });
          for await (const msg of batch) await process(js, msg);
          if (failures > 0) log.info({ failures }, 'consumer reachable again');
          failures = 0;
        }
      } catch (err) {
        if (!loop.running) break;
        metrics.errors.inc(label);
        failures++;
        // A missing consumer or a refused permission will not fix itself: say so loudly.
        const context = { err, stream: stream.name, attempt: failures };
        if (failures === 1 || failures % 30 === 0) log[failures > 1 ? 'error' : 'warn'](context, 'consumer failing');
        await loop.sleep(Math.min(250 * 2 ** failures, 5_000));
      }
    }
  })();

  return {
    async stop() {
      loop.stop();
      await batch?.close().catch(() => undefined);
      await running;
    },
  };
}

// --- followers ---------------------------------------------------------------------------------------------

/** How often a follower that has read everything asks again. */
const POLL_INTERVAL_MS = 200;

/**
 * The first message at or after `seq` whose subject matches `filter`, or null. The stream-message API takes
 * `next_by_subj` (nats-server 2.9+); the client's types only list it for direct gets, hence the cast.
 */
const nextMessage = (jsm: JetStreamManager, stream: string, seq: number, filter: string) =>
  jsm.streams.getMessage(stream, { seq, next_by_subj: filter } as unknown as MsgRequest);

export interface FollowerHealth {
  /** True when the follower confirmed it had read everything within the staleness bound. */
  fresh: boolean;
  /** Milliseconds since it last confirmed that; Infinity if it never has. */
  stalenessMs: number;
  lastError: string | undefined;
}

export interface Follower {
  /** Resolves the first time the follower has read everything that was in the stream. */
  caughtUp: Promise<void>;
  health(): FollowerHealth;
  stop(): Promise<void>;
}

export interface FollowOptions {
  broker: Broker;
  stream: StreamDefinition;
  namespace: string;
  /** The consuming service: it names the dead-letter subject. */
  service: string;
  /** The follower's name in metrics and logs. */
  name: string;
  /** The event types it applies; others in the stream are skipped. */
  types: readonly EventType[];
  /** Where to start when it has applied nothing yet. */
  since: Date;
  /** After this long without confirming it has read everything, the follower is stale. */
  staleAfterMs: number;
  logger: Logger;
  registry?: Registry | undefined;
  handle: (event: KnownEvent) => void;
}

export function followStream(options: FollowOptions): Follower {
  const { broker, stream, namespace, service, name, since, staleAfterMs, logger, handle } = options;
  const metrics = consumerMetrics(options.registry);
  const label = { consumer: name };
  const log = logger.child({ follower: name });
  const wanted = new Set<string>(options.types);
  const filter = stream.subjects[0] ?? '>';
  const loop = new Loop();
  /** The next stream sequence to read; undefined until the start was found, then it never goes back. */
  let nextSeq: number | undefined;
  let caughtUpAt: number | undefined;
  let lastError: string | undefined;
  let reportedStale = false;
  let failures = 0;
  const startedAt = Date.now();

  let markCaughtUp: () => void = () => undefined;
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });

  const stalenessMs = () => (caughtUpAt === undefined ? Number.POSITIVE_INFINITY : Date.now() - caughtUpAt);

  /** Updates the lag and staleness metrics, and logs once when the follower falls behind its bound. */
  function check(): FollowerHealth {
    const behindMs = Date.now() - (caughtUpAt ?? startedAt);
    metrics.lag.set(label, behindMs / 1000);
    if (behindMs > staleAfterMs && !reportedStale) {
      reportedStale = true;
      metrics.stale.set(label, 1);
      log.error(
        { stalenessMs: caughtUpAt === undefined ? null : behindMs, lastError, nextSeq },
        'event follower is not catching up; its state may be missing events',
      );
    }
    const staleness = stalenessMs();
    return { fresh: staleness <= staleAfterMs, stalenessMs: staleness, lastError };
  }

  function confirmCaughtUp(): void {
    caughtUpAt = Date.now();
    lastError = undefined;
    markCaughtUp();
    if (reportedStale) {
      reportedStale = false;
      metrics.stale.set(label, 0);
      log.info('caught up again');
    }
  }

  // The watchdog, so that the error line comes even when nobody asks for the health.
  const watchdog = setInterval(check, Math.min(1_000, Math.max(100, staleAfterMs / 4)));
  watchdog.unref();
  metrics.stale.set(label, 0);

  /** An event whose handler threw; reading it again (after the loop's backoff) is a redelivery. */
  let failedSeq: number | undefined;

  async function apply(js: JetStreamClient, msg: StoredMsg): Promise<void> {
    const type = typeOfSubject(namespace, msg.subject);
    if (!isEventType(type) || !wanted.has(type)) return;
    if (msg.seq === failedSeq) metrics.redeliveries.inc(label);
    const message = { type, subject: msg.subject, consumer: name, headers: msg.header };
    await traceConsume(message, (span) => applyOne(js, msg, type, span));
  }

  /** Applies one event or dead-letters it; throws when the handler does, so that the event is read again. */
  async function applyOne(js: JetStreamClient, msg: StoredMsg, type: EventType, span: ConsumerSpan): Promise<void> {
    let event: KnownEvent;
    try {
      event = eventOf(msg, type) as KnownEvent;
    } catch (err) {
      const reason = describe(err);
      span.failed(err);
      // Every replica's follower sees it; the dead letter's message id (this follower's name and the stream
      // position) makes it one copy. A durable consumer of the same event stores its own (`deadLetter`).
      const original = { stream: stream.name, seq: msg.seq, subject: msg.subject, data: msg.data, headers: msg.header };
      try {
        await deadLetter(js, original, { namespace, service, consumer: name, reason });
        metrics.deadLetters.inc(label);
        log.error({ subject: msg.subject, seq: msg.seq, reason }, 'event breaks its contract; moved to dead letters');
      } catch (publishErr) {
        // Passed over all the same (another replica's follower may move it): it would never parse.
        metrics.errors.inc(label);
        log.error({ err: publishErr, seq: msg.seq, reason }, 'event breaks its contract; could not dead-letter it');
      }
      return;
    }
    try {
      handle(event);
    } catch (err) {
      metrics.failures.inc(label);
      failedSeq = msg.seq;
      throw err;
    }
    failedSeq = undefined;
    metrics.applied.inc(label);
  }

  /** The first stream sequence at or after `since` (a binary search: the stream is ordered by time). */
  async function firstSequenceSince(jsm: JetStreamManager, firstSeq: number, lastSeq: number): Promise<number> {
    let low = firstSeq;
    let high = lastSeq + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const msg = await nextMessage(jsm, stream.name, middle, filter);
      if (msg && msg.time < since) low = msg.seq + 1;
      else high = middle;
    }
    return low;
  }

  /** Reads the stream from `nextSeq` until the connection is lost or the follower stops; then throws or returns. */
  async function follow(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const js = jetstream(nc, { checkAPI: false });
    const { state } = await jsm.streams.info(stream.name);
    if (nextSeq !== undefined && state.last_seq < nextSeq - 1) {
      log.warn(
        { lastSeq: state.last_seq, nextSeq },
        'the stream is behind what was already read: it was recreated; reading it again from the start time',
      );
      nextSeq = undefined;
    }
    nextSeq ??= await firstSequenceSince(jsm, state.first_seq, state.last_seq);
    while (loop.running) {
      // The next message at or after nextSeq, whatever gaps the stream has.
      const msg = await nextMessage(jsm, stream.name, nextSeq, filter);
      if (failures > 0) log.info({ failures, nextSeq }, 'following again');
      failures = 0;
      if (!msg) {
        confirmCaughtUp();
        await loop.sleep(POLL_INTERVAL_MS);
        continue;
      }
      await apply(js, msg);
      nextSeq = msg.seq + 1;
    }
  }

  const running = (async () => {
    while (loop.running) {
      try {
        const nc = await loop.connection(broker);
        if (!nc) break;
        await follow(nc);
      } catch (err) {
        if (!loop.running) break;
        metrics.errors.inc(label);
        failures++;
        lastError = describe(err);
        if (failures === 1) log.warn({ err, nextSeq }, 'lost the stream; resuming after the last event applied');
        else log.debug({ err, attempt: failures }, 'still cannot follow the stream');
        await loop.sleep(Math.min(100 * 2 ** failures, 2_000));
      }
    }
  })();

  return {
    caughtUp,
    health: check,
    async stop() {
      loop.stop();
      clearInterval(watchdog);
      await running;
    },
  };
}

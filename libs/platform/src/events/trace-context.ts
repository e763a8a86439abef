/**
 * The trace an event belongs to, carried through the outbox and NATS (W3C Trace Context, written and read by
 * whichever propagator the SDK registered). The use case's context is stored with the outbox row; the relay
 * publishes in a PRODUCER span under it and sends that span's context as NATS headers (`traceparent`,
 * `tracestate`); a consumer handles the message in a CONSUMER span under those headers. So one trace runs
 * from a request through every event it caused. With tracing off this is all the no-op API: no context is
 * stored (null), no header is sent, no span is recorded.
 */
import { Match, type MsgHdrs } from '@nats-io/transport-node';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';

const tracer = trace.getTracer('@todo/platform/events');

/** Header name → value: `traceparent` and, when there is one, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/**
 * The W3C Trace Context headers; other propagated fields (`baggage`, which a client may send with any value)
 * are neither stored in an outbox row nor passed on to other teams' consumers.
 */
const TRACE_CONTEXT_HEADERS = ['traceparent', 'tracestate'];

/** The active trace context, to store with an event; null when no span is active (always, with tracing off). */
export function activeTraceContext(): TraceCarrier | null {
  if (!trace.getActiveSpan()) return null;
  const injected: TraceCarrier = {};
  propagation.inject(context.active(), injected);
  const carrier = Object.fromEntries(TRACE_CONTEXT_HEADERS.flatMap((h) => (injected[h] ? [[h, injected[h]]] : [])));
  return Object.keys(carrier).length > 0 ? carrier : null;
}

const intoHeaders: TextMapSetter<MsgHdrs> = { set: (headers, key, value) => headers.set(key, value) };
const fromHeaders: TextMapGetter<MsgHdrs | undefined> = {
  keys: (headers) => headers?.keys() ?? [],
  get: (headers, key) => (headers?.has(key, Match.IgnoreCase) ? headers.get(key, Match.IgnoreCase) : undefined),
};

export interface PublishedEvent {
  /** The event type, which names the span (the subject may carry a namespace). */
  type: string;
  subject: string;
  id: string;
}

/** Runs `publish` in a PRODUCER span under the stored context, after adding that span's context to `headers`. */
export function tracePublish<T>(
  stored: TraceCarrier | null | undefined,
  headers: MsgHdrs,
  event: PublishedEvent,
  publish: () => Promise<T>,
): Promise<T> {
  const parent = stored ? propagation.extract(ROOT_CONTEXT, stored) : ROOT_CONTEXT;
  const attributes = {
    ...messaging('send', 'publish', event.subject, event.type),
    'messaging.message.id': event.id,
    'cloudevents.event_id': event.id,
  };
  return inSpan(`send ${event.type}`, SpanKind.PRODUCER, attributes, parent, () => {
    propagation.inject(context.active(), headers, intoHeaders);
    return publish();
  });
}

export interface ConsumedMessage {
  type: string;
  subject: string;
  /** The durable consumer or follower handling it. */
  consumer: string;
  headers: MsgHdrs | undefined;
}

/** What a consumer tells its span besides throwing: a failure it handled itself (a nak, a dead letter). */
export interface ConsumerSpan {
  failed(reason: unknown): void;
}

/**
 * Runs `handle` in a CONSUMER span whose parent is the producer's span, as the message's headers carry it;
 * a message without them (published by something that does not trace) starts a trace of its own.
 */
export function traceConsume<T>(message: ConsumedMessage, handle: (span: ConsumerSpan) => Promise<T>): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, message.headers, fromHeaders);
  const id = message.headers?.get('Nats-Msg-Id');
  const attributes: Attributes = {
    ...messaging('process', 'process', message.subject, message.type),
    'messaging.consumer.group.name': message.consumer,
    ...(id ? { 'messaging.message.id': id, 'cloudevents.event_id': id } : {}),
  };
  return inSpan(`process ${message.type}`, SpanKind.CONSUMER, attributes, parent, (span) =>
    handle({ failed: (reason) => fail(span, reason) }),
  );
}

const messaging = (operationType: string, operationName: string, subject: string, type: string): Attributes => ({
  'messaging.system': 'nats',
  'messaging.operation.type': operationType,
  'messaging.operation.name': operationName,
  'messaging.destination.name': subject,
  'cloudevents.event_type': type,
});

function fail(span: Span, reason: unknown): void {
  if (reason instanceof Error) span.recordException(reason);
  span.setStatus({ code: SpanStatusCode.ERROR, message: reason instanceof Error ? reason.message : String(reason) });
}

function inSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, parent, async (span) => {
    try {
      return await run(span);
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

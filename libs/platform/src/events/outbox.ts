/**
 * The transactional outbox. A use case records its event in the same transaction as the change it
 * describes (`Outbox.enqueue`), so an event exists exactly when the change committed. The relay publishes
 * unpublished rows to JetStream in the order they were written (`seq`), with the event id as the message
 * id (JetStream drops a duplicate within its window, covering a crash between publish and bookkeeping),
 * then marks them published. One relay publishes at a time across all replicas (a transaction-scoped
 * advisory lock, which works through a transaction pooler too), so the events of one entity reach the
 * stream in commit order. While NATS is away the rows wait; nothing is lost and nothing is skipped.
 * Each row also keeps the trace context it was written in, so the trace goes on through NATS
 * (`trace-context.ts`).
 */
import { defineEntity, type InferEntity, p, raw } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { newId } from '../db/ids.ts';
import type { Logger } from '../logger.ts';
import { type Backlog, registerBacklogGauges } from './backlog.ts';
import type { Broker } from './connection.ts';
import { type CloudEvent, type EventData, type EventType, eventSubject } from './contracts.ts';
import { FailureStreak, Pause } from './relay-loop.ts';
import { subjectOf } from './streams.ts';
import { activeTraceContext, type TraceCarrier, tracePublish } from './trace-context.ts';

/** The `outbox` table, in the schema of whichever service lists this entity. */
export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox',
  properties: {
    id: p.uuid().primary(),
    /** Assigned by PostgreSQL on insert: the order the relay publishes in. */
    seq: p.bigint('number').autoincrement().generated('identity'),
    type: p.text(),
    payload: p.json<CloudEvent>(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
    /** The W3C trace context of the change (`traceparent`, `tracestate`); null when it was not traced. */
    traceContext: p.json<TraceCarrier>().nullable(),
  },
});
export type OutboxEvent = InferEntity<typeof OutboxEventSchema>;

/** The outbox table, schema-qualified, for the statements written out here. */
function outboxTable(em: EntityManager): string {
  const meta = em.getMetadata(OutboxEventSchema);
  return `${meta.schema ?? em.config.get('schema')}.${meta.tableName}`;
}

export class Outbox {
  readonly #source: string;
  readonly #listeners = new Set<() => void>();

  readonly #enabled: boolean;

  /**
   * `source`: the CloudEvents source of everything this service emits, e.g. `todo-platform/auth`. A service
   * that publishes nothing (it lists no outbox table) gets a disabled one: recording an event is then a bug.
   */
  constructor(source: string, enabled = true) {
    this.#source = source;
    this.#enabled = enabled;
  }

  get source(): string {
    return this.#source;
  }

  /** The outbox row of an event of `type` about `data`, made now, in the current trace. */
  #row<T extends EventType>(type: T, data: EventData<T>) {
    if (!this.#enabled) {
      throw new TypeError(
        `${this.#source} has no outbox: list OutboxEventSchema among its entities to publish ${type}`,
      );
    }
    const now = new Date();
    const event: CloudEvent<EventData<T>> = {
      specversion: '1.0',
      id: newId(),
      source: this.#source,
      type,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      subject: eventSubject[type](data),
      data,
    };
    return {
      id: event.id,
      type,
      payload: event,
      createdAt: now,
      publishedAt: null,
      traceContext: activeTraceContext(),
    };
  }

  /** Records an event in `em`'s unit of work; it is written when that transaction commits. */
  enqueue<T extends EventType>(em: EntityManager, type: T, data: EventData<T>): CloudEvent<EventData<T>> {
    const row = this.#row(type, data);
    em.create(OutboxEventSchema, row);
    return row.payload;
  }

  /**
   * Runs `change` (one statement ending in RETURNING, `?` for its parameters, changing at most one row) and
   * writes the event in the same statement (a data-modifying CTE): one round trip, atomic without a
   * transaction of its own, so the event exists exactly when the change does: a change that matched no row
   * records none. `fromRow` names members of `data` that come from the changed row, each from the RETURNING
   * column of that name (e.g. the version a change gave it). Returns the change's rows.
   */
  async withChange<R extends object, T extends EventType, K extends keyof EventData<T> & string = never>(
    em: EntityManager,
    change: { sql: string; params: readonly unknown[] },
    type: T,
    data: Omit<EventData<T>, K>,
    fromRow?: Record<K, string>,
  ): Promise<R[]> {
    const row = this.#row(type, data as EventData<T>);
    const table = outboxTable(em);
    const members = Object.entries<string>(fromRow ?? {}).map(([member, column]) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new TypeError(`${column} is not a column name`);
      return `'${member.replace(/'/g, "''")}', change.${column}`;
    });
    const payload =
      members.length === 0
        ? '?::jsonb'
        : `?::jsonb || jsonb_build_object('data', ?::jsonb || jsonb_build_object(${members.join(', ')}))`;
    return em.execute<R[]>(
      `with change as (${change.sql}), event as (insert into ${table} ` +
        `(id, type, payload, created_at, published_at, trace_context) select ?, ?, ${payload}, ?, null, ?::jsonb ` +
        'from change) select * from change',
      [
        ...change.params,
        row.id,
        row.type,
        JSON.stringify(row.payload),
        ...(members.length === 0 ? [] : [JSON.stringify(row.payload.data)]),
        row.createdAt,
        row.traceContext === null ? null : JSON.stringify(row.traceContext),
      ],
    );
  }

  /** Tells local relays that something was committed, so they publish now instead of at the next poll. */
  notifyCommitted(): void {
    for (const listener of this.#listeners) listener();
  }

  onCommitted(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export interface OutboxRelayOptions {
  orm: MikroORM;
  outbox: Outbox;
  broker: Broker;
  namespace: string;
  logger: Logger;
  registry?: Registry;
  pollIntervalMs?: number;
  batchSize?: number;
  /** Published rows older than this are deleted. */
  keepPublishedMs?: number;
  /** Longest wait between attempts while NATS refuses. */
  maxBackoffMs?: number;
  /** After failing this long, the relay logs an error (once per outage) instead of warnings. */
  alarmAfterMs?: number;
}

export type OutboxBacklog = Backlog;

interface BatchResult {
  published: number;
  /** False when another replica's relay held the lock. */
  locked: boolean;
  failure?: unknown;
}

const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** An unpublished row as the relay reads it. */
type PendingRow = Pick<OutboxEvent, 'id' | 'type' | 'payload'> & { trace_context: OutboxEvent['traceContext'] };

export class OutboxRelay {
  readonly #options: Required<Omit<OutboxRelayOptions, 'registry'>>;
  readonly #metrics: { published: Counter; errors: Counter };
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #pause = new Pause();
  #unsubscribe: (() => void) | undefined;
  #lastCleanup = 0;
  /** Set by a commit notification; makes the loop go round again instead of sleeping, so none is lost. */
  #dirty = false;
  #failing = false;

  constructor(options: OutboxRelayOptions) {
    this.#options = {
      pollIntervalMs: 500,
      batchSize: 100,
      keepPublishedMs: 7 * 24 * 3600 * 1000,
      maxBackoffMs: 5_000,
      alarmAfterMs: 60_000,
      ...options,
    };
    const registers = options.registry ? [options.registry] : [];
    this.#metrics = {
      published: new Counter({
        name: 'outbox_events_published_total',
        help: 'Events the outbox relay published to NATS.',
        registers,
      }),
      errors: new Counter({
        name: 'outbox_publish_errors_total',
        help: 'Failed attempts to publish an outbox event (NATS away, no stream, permission refused…).',
        registers,
      }),
    };
    registerBacklogGauges(
      options.registry,
      () => this.backlog(),
      { pending: 'outbox_events_pending', oldest: 'outbox_oldest_pending_age_seconds' },
      {
        pending: 'Events committed but not yet published.',
        oldest: 'Age of the oldest event not yet published (0 when none waits).',
      },
    );
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#options.outbox.onCommitted(() => {
      this.#dirty = true;
      // While publishing fails, commits do not hurry the retries; a reconnect does.
      if (!this.#failing) this.#pause.wake();
    });
    this.#options.broker.onReconnect(() => this.#pause.wake());
    this.#loop = this.#run();
  }

  /** Stops after one last attempt to publish what is waiting; whatever remains stays for the next relay. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#unsubscribe?.();
    this.#pause.wake();
    await this.#loop;
    const last = await this.#publishBatch().catch((failure: unknown) => ({ failure, published: 0, locked: true }));
    if (last.failure !== undefined) {
      this.#options.logger.warn(
        { err: last.failure },
        'outbox relay stopped with events unpublished; the next relay will send them',
      );
    }
  }

  /** What is waiting, for metrics and readiness. */
  async backlog(): Promise<OutboxBacklog> {
    const [row] = await this.#options.orm.em
      .fork()
      .createQueryBuilder(OutboxEventSchema)
      .select([
        raw('count(*)::int as pending'),
        raw('coalesce(extract(epoch from now() - min(created_at)), 0)::float as oldest_age_seconds'),
      ])
      .where({ publishedAt: null })
      .execute<{ pending: number; oldest_age_seconds: number }[]>('all', false);
    return { pending: row?.pending ?? 0, oldestAgeSeconds: Math.round(row?.oldest_age_seconds ?? 0) };
  }

  /** Publishes one batch in `seq` order, stopping at the first failure; marks what went out. */
  async #publishBatch(): Promise<BatchResult> {
    const { orm, outbox, broker, namespace, batchSize } = this.#options;
    const nc = broker.current();
    // Publishing into a reconnecting client would only queue up; wait for the reconnect instead.
    if (!nc) return { published: 0, locked: true, failure: new Error(`NATS is ${broker.state()}`) };
    const js = jetstream(nc);
    return orm.em.fork().transactional(async (em) => {
      const [lock] = await em.execute<{ locked: boolean }[]>(
        'select pg_try_advisory_xact_lock(hashtext(?)) as locked',
        [`outbox:${outbox.source}`],
      );
      if (!lock?.locked) return { published: 0, locked: false };
      // Plain rows, not entities: the relay only reads them and marks them, and runs after every commit.
      const table = outboxTable(em);
      const rows = await em.execute<PendingRow[]>(
        `select id, type, payload, trace_context from ${table} where published_at is null order by seq limit ?`,
        [batchSize],
      );
      const sent: string[] = [];
      let failure: unknown;
      for (const row of rows) {
        const h = headers();
        h.set('Content-Type', CLOUDEVENTS_JSON);
        const subject = subjectOf(namespace, row.type);
        try {
          await tracePublish(row.trace_context, h, { type: row.type, subject, id: row.id }, () =>
            js.publish(subject, JSON.stringify(row.payload), { msgID: row.id, headers: h }),
          );
          sent.push(row.id);
        } catch (err) {
          failure = err;
          break;
        }
      }
      if (sent.length > 0) {
        await em.execute(`update ${table} set published_at = now() where id in (?)`, [sent]);
      }
      return { published: sent.length, locked: true, failure };
    });
  }

  async #run(): Promise<void> {
    const { logger, pollIntervalMs, batchSize, maxBackoffMs, alarmAfterMs, broker } = this.#options;
    // Until the first connection there is nothing to try; the broker logs its own attempts meanwhile.
    await Promise.race([broker.connection.catch(() => undefined), this.#pause.untilWoken()]);
    const streak = new FailureStreak({
      logger,
      alarmAfterMs,
      backlog: () => this.backlog(),
      messages: {
        failing: 'outbox relay could not publish; will retry',
        alarm: 'outbox relay has not been able to publish for a while; events are waiting in the outbox',
        recovered: 'outbox relay publishes again',
      },
    });
    while (this.#running) {
      let result: BatchResult;
      this.#dirty = false;
      try {
        result = await this.#publishBatch();
      } catch (failure) {
        result = { published: 0, locked: true, failure };
      }
      this.#metrics.published.inc(result.published);
      this.#failing = result.failure !== undefined;
      if (result.failure === undefined) {
        streak.succeeded();
        await this.#cleanup().catch((err: unknown) => logger.warn({ err }, 'could not delete old outbox rows'));
      } else {
        this.#metrics.errors.inc();
        await streak.failed({ err: result.failure });
      }
      if (!this.#running) break;
      if (result.failure === undefined && (result.published === batchSize || this.#dirty)) continue;
      const wait =
        result.failure !== undefined
          ? streak.backoff(pollIntervalMs, maxBackoffMs)
          : !result.locked && this.#dirty
            ? 50
            : pollIntervalMs;
      await this.#pause.for(wait);
    }
  }

  async #cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastCleanup < 3600_000) return;
    this.#lastCleanup = now;
    await this.#options.orm.em
      .fork()
      .nativeDelete(OutboxEventSchema, { publishedAt: { $lt: new Date(now - this.#options.keepPublishedMs) } });
  }
}

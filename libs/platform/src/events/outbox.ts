/**
 * The transactional outbox. A use case records its event in the same transaction as the change it
 * describes (`Outbox.enqueue`), so an event exists exactly when the change committed. The relay publishes
 * unpublished rows to JetStream with the event id as the message id (JetStream drops a duplicate within
 * its window, covering a crash between publish and bookkeeping), then marks them published. Replicas share
 * the work through `FOR UPDATE SKIP LOCKED`.
 */
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, LockMode, p } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../logger.ts';
import type { CloudEvent, EventData, EventType } from './contracts.ts';
import { subjectOf } from './streams.ts';

/** The `outbox` table, in the schema of whichever service lists this entity. */
export const OutboxEventSchema = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox',
  properties: {
    id: p.uuid().primary(),
    type: p.text(),
    payload: p.json<CloudEvent>(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
  },
});
export type OutboxEvent = InferEntity<typeof OutboxEventSchema>;

export class Outbox {
  readonly #source: string;
  readonly #listeners = new Set<() => void>();

  /** `source`: the CloudEvents source of everything this service emits, e.g. `todo-platform/auth`. */
  constructor(source: string) {
    this.#source = source;
  }

  /** Records an event in `em`'s unit of work; it is written when that transaction commits. */
  enqueue<T extends EventType>(em: EntityManager, type: T, data: EventData<T>): CloudEvent<EventData<T>> {
    const now = new Date();
    const event: CloudEvent<EventData<T>> = {
      specversion: '1.0',
      id: randomUUID(),
      source: this.#source,
      type,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      data,
    };
    em.create(OutboxEventSchema, { id: event.id, type, payload: event, createdAt: now, publishedAt: null });
    return event;
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
  js: JetStreamClient;
  namespace: string;
  logger: Logger;
  pollIntervalMs?: number;
  batchSize?: number;
  /** Published rows older than this are deleted. */
  keepPublishedMs?: number;
}

export class OutboxRelay {
  readonly #options: Required<OutboxRelayOptions>;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastCleanup = 0;
  /** Set by a commit notification; makes the loop go round again instead of sleeping, so none is lost. */
  #dirty = false;

  constructor(options: OutboxRelayOptions) {
    this.#options = { pollIntervalMs: 500, batchSize: 100, keepPublishedMs: 7 * 24 * 3600 * 1000, ...options };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#options.outbox.onCommitted(() => {
      this.#dirty = true;
      this.#wake?.();
    });
    this.#loop = this.#run();
  }

  /** Stops polling after one last attempt to publish what is waiting; whatever remains stays for the next relay. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#wake?.();
    await this.#loop;
    await this.publishBatch().catch((err: unknown) =>
      this.#options.logger.warn({ err }, 'outbox relay stopped with events unpublished; the next relay will send them'),
    );
  }

  /** Publishes one batch; returns how many events went out. */
  async publishBatch(): Promise<number> {
    const { orm, js, namespace, batchSize } = this.#options;
    return orm.em.fork().transactional(async (em) => {
      const rows = await em.find(
        OutboxEventSchema,
        { publishedAt: null },
        { orderBy: { createdAt: 'asc', id: 'asc' }, limit: batchSize, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      for (const row of rows) {
        await js.publish(subjectOf(namespace, row.type), JSON.stringify(row.payload), { msgID: row.id });
      }
      if (rows.length > 0) {
        await em.nativeUpdate(OutboxEventSchema, { id: { $in: rows.map((r) => r.id) } }, { publishedAt: new Date() });
      }
      return rows.length;
    });
  }

  async #run(): Promise<void> {
    const { logger, pollIntervalMs, batchSize } = this.#options;
    let failures = 0;
    while (this.#running) {
      let published = 0;
      this.#dirty = false;
      try {
        published = await this.publishBatch();
        failures = 0;
        await this.#cleanup();
      } catch (err) {
        failures++;
        logger.warn({ err, failures }, 'outbox relay could not publish; will retry');
      }
      if (published === batchSize || (this.#dirty && failures === 0)) continue;
      const backoff = failures === 0 ? pollIntervalMs : Math.min(pollIntervalMs * 2 ** failures, 30_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
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

/** Helpers for the event stories: play the auth service on NATS, and read what the todo service published. */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { newId } from '@todo/platform/db';
import {
  authEventsStream,
  type CloudEvent,
  type EventData,
  type EventType,
  subjectOf,
  todoEventsStream,
} from '@todo/platform/events';
import { readStream, type StoredMessage } from '@todo/testkit';
import { expect, inject, vi } from 'vitest';
import type { Stack } from './stack.ts';

/** A CloudEvent as the auth service would publish it. */
export function authEvent<T extends EventType>(type: T, subject: string, data: EventData<T>): CloudEvent<EventData<T>> {
  return {
    specversion: '1.0',
    id: newId(),
    source: 'todo-platform/auth',
    type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    subject,
    data,
  };
}

export const userDeleted = (userId: string) => {
  const now = Math.floor(Date.now() / 1000);
  return authEvent('auth.user.deleted', userId, { userId, deletedAt: now, tokensExpireBy: now + 900 });
};

export const namespaceOf = (stack: Stack) => stack.todoConfig.EVENTS_NAMESPACE;
export const subjectIn = (stack: Stack, type: string) => subjectOf(namespaceOf(stack), type);

/** Every event the todo service published so far, parsed. */
export async function todoEvents(
  stack: Stack,
  natsUrl = inject('natsUrl'),
): Promise<CloudEvent<Record<string, unknown>>[]> {
  const messages = await readStream(natsUrl, todoEventsStream(namespaceOf(stack)).name);
  return messages.map((m: StoredMessage) => m.body as CloudEvent<Record<string, unknown>>);
}

/** Rows of the todo outbox still waiting for the relay. */
export async function unpublishedTodoEvents(stack: Stack): Promise<number> {
  const [row] = await stack.auth.sql('select count(*)::int as n from todo.outbox where published_at is null');
  return Number(row?.n);
}

export async function todosOf(stack: Stack, ownerId: string): Promise<number> {
  const [row] = await stack.auth.sql('select count(*)::int as n from todo.todos where owner_id = $1', [ownerId]);
  return Number(row?.n);
}

/** Waits until the durable consumer has handled and acknowledged everything in its stream. */
export async function consumerDrained(stack: Stack, durable: string, natsUrl = inject('natsUrl')): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = authEventsStream(namespaceOf(stack)).name;
    await vi.waitFor(
      async () => {
        const info = await jsm.consumers.info(stream, durable);
        expect(info).toMatchObject({ num_pending: 0, num_ack_pending: 0 });
      },
      { timeout: 10_000, message: `${durable} to handle and acknowledge every event` },
    );
  } finally {
    await nc.close();
  }
}

/**
 * When an account is deleted, its todos go too. One replica handles each `auth.user.deleted` (a durable
 * consumer created by the setup step); it is acknowledged after the deletion committed, retried while the
 * database is away, and harmless when delivered again.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  authEventsStream,
  type Broker,
  type DurableConsumerDefinition,
  type RunningConsumer,
  startDurableConsumer,
  subjectOf,
  USER_DELETED,
} from '@todo/platform/events';
import type { Logger } from '@todo/platform/logger';
import type { Registry } from 'prom-client';
import { forgetOwner } from '../domain/change-todo.ts';
import type { TodoDeps } from '../domain/deps.ts';

const DURABLE = 'todo-forget-deleted-users';

/** The durable consumer, as the setup step creates it. */
export const forgetDeletedUsersConsumer = (namespace: string): DurableConsumerDefinition => ({
  stream: authEventsStream(namespace),
  durable: DURABLE,
  filterSubject: subjectOf(namespace, USER_DELETED),
});

export interface ForgetDeletedUsersOptions {
  broker: Broker;
  orm: MikroORM;
  deps: TodoDeps;
  namespace: string;
  service: string;
  logger: Logger;
  registry?: Registry;
}

export function forgetDeletedUsers({
  broker,
  orm,
  deps,
  namespace,
  service,
  logger,
  registry,
}: ForgetDeletedUsersOptions): RunningConsumer {
  return startDurableConsumer({
    broker,
    stream: authEventsStream(namespace),
    namespace,
    service,
    durable: DURABLE,
    type: USER_DELETED,
    logger,
    registry,
    async handle(event) {
      const removed = await forgetOwner(deps, orm.em.fork(), { ownerId: event.data.userId });
      logger.info({ userId: event.data.userId, removed, eventId: event.id }, 'deleted the todos of a deleted user');
    },
  });
}

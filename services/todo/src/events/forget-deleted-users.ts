/** When an account is deleted, its todos go too. One replica handles each event; it is acked after the delete. */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { authEventsStream, type RunningConsumer, startDurableConsumer, USER_DELETED } from '@todo/platform/events';
import type { Logger } from '@todo/platform/logger';
import { TodoRepository } from '../repositories/todo.repository.ts';

export interface ForgetDeletedUsersOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  orm: MikroORM;
  namespace: string;
  logger: Logger;
}

export function forgetDeletedUsers({
  js,
  jsm,
  orm,
  namespace,
  logger,
}: ForgetDeletedUsersOptions): Promise<RunningConsumer> {
  return startDurableConsumer({
    js,
    jsm,
    stream: authEventsStream(namespace),
    namespace,
    durable: 'todo-forget-deleted-users',
    type: USER_DELETED,
    logger,
    async handle(event) {
      const removed = await new TodoRepository(orm.em.fork()).deleteAllOf(event.data.userId);
      logger.info({ userId: event.data.userId, removed }, 'deleted the todos of a deleted user');
    },
  });
}

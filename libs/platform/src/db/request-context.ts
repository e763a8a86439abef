import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Middleware } from 'koa';

export interface DatabaseState {
  em: EntityManager;
}

/** One EntityManager fork per request, so identity maps never leak between requests. */
export function requestScopedEntityManager(orm: MikroORM): Middleware<DatabaseState> {
  return (ctx, next) => {
    ctx.state.em = orm.em.fork();
    return next();
  };
}

/**
 * A pool whose queries never name a prepared statement. A named statement lives in one server session; behind
 * a transaction pooler (PgBouncer, Neon's `-pooler` endpoint) consecutive queries run in whichever session is
 * free, where the statement is missing or, prepared there by an earlier client, already exists (42P05). For
 * libraries that name theirs, such as rate-limiter-flexible's PostgreSQL store: give them this instead of the pool.
 */
import type pg from 'pg';

/** What such a library calls: `query` with a config object. */
export interface QueryClient {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

export const withoutNamedStatements = (pool: pg.Pool): QueryClient => ({
  query: ({ text, values }) => pool.query({ text, values }),
});

/**
 * The scenarios: what each connection of a load sends. Every request is meant to succeed (2xx), so each
 * scenario hands every connection requests that can: its own user's todos, ids nobody else patches or
 * deletes, a refresh token that is the current one of its own session. Anything else is counted as non-2xx.
 */
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import type pg from 'pg';
import { type BenchUser, deleteTodos, inBatches, insertTodos, logIn } from './seed.ts';

/** One side of a comparison: the services, or the floor standing in for both. */
export interface Target {
  name: 'service' | 'floor';
  authUrl: string;
  todoUrl: string;
  /** The processes serving each API, when the bench started them. */
  pids?: { auth: number; todo: number };
}

export interface ScenarioContext {
  db: pg.Pool;
  users: BenchUser[];
  connections: number;
  /** Warm-up and measurement together: what a supply of ids has to last. */
  seconds: number;
  /** Requests per second each scenario already reached on this target (delete sizes its supply from create's). */
  rates: Map<string, number>;
}

/** A prepared load on one target: where it goes and, per connection, what it sends. */
export interface Load {
  url: string;
  serves: 'auth' | 'todo';
  requestsFor(connection: number): autocannon.Request[];
  /** After the measurement: removes what the load left behind; notes anything the figures need. */
  finish?(): Promise<Record<string, number>>;
}

export interface Scenario {
  name: string;
  /** What it does, for the README and the report. */
  what: string;
  prepare(target: Target, context: ScenarioContext): Promise<Load>;
}

const json = { 'content-type': 'application/json' };
const bearer = (user: BenchUser) => ({ authorization: `Bearer ${user.accessToken}` });
const userOf = (context: ScenarioContext, connection: number) =>
  context.users[connection % context.users.length] as BenchUser;

/** The ids of the connection's user that only this connection touches (connections share users round-robin). */
function ownIds(context: ScenarioContext, connection: number): string[] {
  const users = context.users.length;
  const sharing = Math.ceil(context.connections / users);
  const slot = Math.floor(connection / users);
  return userOf(context, connection).todoIds.filter((_, i) => i % sharing === slot);
}

/** A request whose path (and body) changes each time: `next()` gives the n-th. */
const cycling = (base: autocannon.Request, next: (n: number) => Partial<autocannon.Request>): autocannon.Request => {
  let n = 0;
  return { ...base, setupRequest: (request) => ({ ...request, ...next(n++) }) };
};

const list: Scenario = {
  name: 'list',
  what: 'GET /todos?limit=20: the first page of the caller’s 1,000 todos, newest first (keyset query, 21 rows)',
  prepare: async (target, context) => ({
    url: target.todoUrl,
    serves: 'todo',
    requestsFor: (c) => [{ method: 'GET', path: '/todos?limit=20', headers: bearer(userOf(context, c)) }],
  }),
};

const get: Scenario = {
  name: 'get',
  what: 'GET /todos/{id}: one of the caller’s todos by id, cycling through all of them',
  prepare: async (target, context) => ({
    url: target.todoUrl,
    serves: 'todo',
    requestsFor: (c) => {
      const ids = userOf(context, c).todoIds;
      return [
        cycling({ method: 'GET', headers: bearer(userOf(context, c)) }, (n) => ({
          path: `/todos/${ids[(c * 37 + n) % ids.length]}`,
        })),
      ];
    },
  }),
};

const create: Scenario = {
  name: 'create',
  what: 'POST /todos: a new todo with a title, a description and a due date (no Idempotency-Key)',
  prepare: async (target, context) => ({
    url: target.todoUrl,
    serves: 'todo',
    requestsFor: (c) => [
      {
        method: 'POST',
        path: '/todos',
        headers: { ...json, ...bearer(userOf(context, c)) },
        body: JSON.stringify({
          title: 'Water the plants',
          description: 'Created by npm run bench',
          dueAt: '2027-01-15T09:00:00Z',
        }),
      },
    ],
  }),
};

const patch: Scenario = {
  name: 'patch',
  what: 'PATCH /todos/{id}: a merge patch of title and done (version + 1) on todos no other connection touches',
  prepare: async (target, context) => ({
    url: target.todoUrl,
    serves: 'todo',
    requestsFor: (c) => {
      const ids = ownIds(context, c);
      return [
        cycling(
          {
            method: 'PATCH',
            headers: { 'content-type': 'application/merge-patch+json', ...bearer(userOf(context, c)) },
          },
          (n) => ({
            path: `/todos/${ids[n % ids.length]}`,
            body: JSON.stringify({ title: `Patched ${n}`, done: n % 2 === 0 }),
          }),
        ),
      ];
    },
  }),
};

/**
 * Deletes need a supply of todos that exist: inserted before the run (SQL), one list per connection, sized
 * from the rate create reached on the same target (or a generous guess), with margin. A connection whose
 * supply runs out deletes ids that do not exist, and the 404s show in non-2xx: a delete is never faked.
 */
const remove: Scenario = {
  name: 'delete',
  what: 'DELETE /todos/{id}: each request deletes a different existing todo of the caller (pre-inserted supply)',
  prepare: async (target, context) => {
    const expectedRate = (context.rates.get('create') ?? 2_500) * 1.5;
    const perConnection = Math.ceil((expectedRate * context.seconds) / context.connections) + 50;
    const supplies: string[][] = Array.from({ length: context.connections }, () => []);
    for (const [u, user] of context.users.entries()) {
      const mine = supplies.filter((_, c) => c % context.users.length === u);
      if (mine.length === 0) continue;
      const ids = await insertTodos(context.db, user.id, perConnection * mine.length, 'To be deleted');
      for (const [k, supply] of mine.entries()) {
        for (const id of ids.slice(k * perConnection, (k + 1) * perConnection)) supply.push(id);
      }
    }
    await context.db.query('analyze todo.todos');
    // Where each connection is in its supply, across the warm-up and the measurement.
    const used = supplies.map(() => 0);
    let exhausted = 0;
    return {
      url: target.todoUrl,
      serves: 'todo',
      requestsFor: (c) => [
        {
          method: 'DELETE',
          headers: bearer(userOf(context, c)),
          setupRequest: (request) => {
            const id = (supplies[c] as string[])[(used[c] as number)++];
            if (id === undefined) exhausted += 1;
            return { ...request, path: `/todos/${id ?? randomUUID()}` };
          },
        },
      ],
      async finish() {
        await deleteTodos(context.db, supplies.flat());
        return { supplyPerConnection: perConnection, supplyExhausted: exhausted };
      },
    };
  },
};

const login: Scenario = {
  name: 'login',
  what: 'POST /auth/login: email and password (argon2id verify), a new session, a signed access token',
  prepare: async (target, context) => ({
    url: target.authUrl,
    serves: 'auth',
    requestsFor: (c) => {
      const user = userOf(context, c);
      return [
        {
          method: 'POST',
          path: '/auth/login',
          headers: json,
          body: JSON.stringify({ email: user.email, password: user.password }),
        },
      ];
    },
  }),
};

/**
 * Refresh tokens rotate: each is good once. Every connection gets a session of its own (a login before the
 * run) and sends the refresh token the previous response handed it, as a client would.
 */
const refresh: Scenario = {
  name: 'refresh',
  what: 'POST /auth/refresh: each connection rotates its own session, sending the token the last answer gave',
  prepare: async (target, context) => {
    const current = (
      await inBatches(Array.from({ length: context.connections }), 4, (_, c) =>
        logIn(target.authUrl, userOf(context, c)),
      )
    ).map((tokens) => tokens.refresh_token);
    let broken = 0;
    return {
      url: target.authUrl,
      serves: 'auth',
      requestsFor: (c) => [
        {
          method: 'POST',
          path: '/auth/refresh',
          headers: json,
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ refresh_token: current[c] }) }),
          onResponse: (status, body) => {
            if (status === 200) current[c] = (JSON.parse(body) as { refresh_token: string }).refresh_token;
            else broken += 1;
          },
        },
      ],
      finish: async () => ({ failedRotations: broken }),
    };
  },
};

/** In the order they run: reads first, on the seeded data as it is; then writes; then the auth routes. */
export const SCENARIOS: Scenario[] = [list, get, create, patch, remove, login, refresh];

/** The login flood reuses these two: list measured alone, then under a login load. */
export const LIST = list;
export const LOGIN = login;

export const LOGIN_FLOOD = 'login-flood';

/**
 * The floor: what the bench's scenarios cost with nothing but `node:http`, `pg` (named, hence prepared,
 * statements) and `jose`, so that the services' figures have something to be compared with. It does the same
 * work per request as the services and nothing else: no framework, no logging, no metrics, no rate limits, no
 * request ids or security headers, no transactions, no outbox.
 *
 * - Todos: ES256 access tokens of the auth service verified with a local key set (its JWKS, fetched once at
 *   start) with the same checks (algorithm, `typ`, issuer, audience, expiry with the same tolerance); every query
 *   scoped to the token's `sub`, on the todo schema the services' migrations made; the same JSON shapes.
 * - Login: the users' password hashes (auth.users, auth.credentials) checked with argon2id (@node-rs/argon2,
 *   off the event loop; the parameters are those stored in each hash), a session row, an ES256 token signed
 *   with a key of its own. Refresh: the same token format (`v1.<session>.<counter>.<hmac>`), an HMAC check,
 *   one conditional row update, a signature. Its sessions live in a schema of its own, `bench_floor`.
 *
 * Configured by the bench through FLOOR_* variables; answers /readyz once the key set and the database are in.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { verify as verifyPassword } from '@node-rs/argon2';
import { type CryptoKey, createLocalJWKSet, generateKeyPair, type JSONWebKeySet, jwtVerify, SignJWT } from 'jose';
import pg from 'pg';

const config = {
  port: Number(process.env.FLOOR_PORT ?? 0),
  databaseUrl: required('FLOOR_DATABASE_URL'),
  poolMax: Number(process.env.FLOOR_POOL_MAX ?? 5),
  jwksUrl: required('FLOOR_JWKS_URL'),
  issuer: required('FLOOR_JWT_ISSUER'),
  audience: required('FLOOR_JWT_AUDIENCE'),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new TypeError(`${name} is required`);
  return value;
}

const ACCESS_TOKEN_TTL_SECONDS = 900;
const SESSION_LIFETIME_SECONDS = 30 * 86_400;
const REUSE_INTERVAL_MS = 10_000;
const MAX_BODY_BYTES = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REFRESH_TOKEN = /^v1\.([0-9a-f-]{36})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

// --- the database ---------------------------------------------------------------------------------------
interface TodoRow {
  id: string;
  title: string;
  description: string | null;
  done: boolean;
  due_at: Date | null;
  created_at: Date;
  updated_at: Date;
  version: number;
  sort_key?: string;
}

const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolMax });
const TODO_COLUMNS = 'id, title, description, done, due_at, created_at, updated_at, version';

// The service's default order (-createdAt) and its keyset shape: (created_at, id) below the cursor's, descending.
const LIST = `select ${TODO_COLUMNS}, (t.created_at)::text as sort_key from todo.todos t
  where t.owner_id = $1 order by t.created_at desc, t.id desc limit $2`;
const LIST_AFTER = `select ${TODO_COLUMNS}, (t.created_at)::text as sort_key from todo.todos t
  where t.owner_id = $1 and (t.created_at, t.id) < ($3::timestamptz, $4::uuid)
  order by t.created_at desc, t.id desc limit $2`;
const GET = `select ${TODO_COLUMNS} from todo.todos where owner_id = $1 and id = $2`;
const INSERT = `insert into todo.todos (id, owner_id, title, description, done, due_at, created_at, updated_at, version)
  values ($1, $2, $3, $4, $5, $6, $7, $7, 1) returning ${TODO_COLUMNS}`;
// A merge patch: each field changes only when its flag says it was present.
const UPDATE = `update todo.todos set
    title = case when $3::boolean then $4 else title end,
    description = case when $5::boolean then $6 else description end,
    done = case when $7::boolean then $8::boolean else done end,
    due_at = case when $9::boolean then $10::timestamptz else due_at end,
    updated_at = $11, version = version + 1
  where owner_id = $1 and id = $2 returning ${TODO_COLUMNS}`;
const DELETE = 'delete from todo.todos where owner_id = $1 and id = $2 returning version';
const USER_WITH_HASH = `select u.id, u.email, u.name, u.created_at, c.password_hash
  from auth.users u join auth.credentials c on c.user_id = u.id where u.email = $1`;
const USER = 'select id, email, name, created_at from auth.users where id = $1';
const SESSION_INSERT = `insert into bench_floor.sessions (id, user_id, secret, counter, created_at, last_active_at)
  values ($1, $2, $3, 0, $4, $4)`;
const SESSION = 'select user_id, secret, counter, last_active_at from bench_floor.sessions where id = $1';
const SESSION_ROTATE = `update bench_floor.sessions set counter = counter + 1, last_active_at = $3
  where id = $1 and counter = $2`;

const query = async <R extends pg.QueryResultRow>(name: string, text: string, values: unknown[]) =>
  (await pool.query<R>({ name, text, values })).rows;

// --- tokens -----------------------------------------------------------------------------------------------
let verifyKeys: ReturnType<typeof createLocalJWKSet>;
let signingKey: CryptoKey;

async function ownerOf(req: IncomingMessage): Promise<string> {
  const header = req.headers.authorization;
  if (!header?.startsWith('Bearer ')) throw new HttpError(401, 'a bearer token is required');
  try {
    const { payload } = await jwtVerify(header.slice(7), verifyKeys, {
      algorithms: ['ES256'],
      typ: 'at+jwt',
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: 5,
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
    });
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) throw new Error('sub is not a uuid');
    return payload.sub;
  } catch {
    throw new HttpError(401, 'the access token is not valid');
  }
}

const macOf = (secret: Buffer, sessionId: string, counter: number) =>
  createHmac('sha256', secret).update(`v1.${sessionId}.${counter}`).digest();

async function issueTokens(
  user: { id: string; email: string; name: string | null; created_at: Date },
  sessionId: string,
  secret: Buffer,
  counter: number,
  now: number,
) {
  const iat = Math.floor(now / 1000);
  const accessToken = await new SignJWT({ sid: sessionId, client_id: 'todo-web' })
    .setProtectedHeader({ alg: 'ES256', kid: 'floor', typ: 'at+jwt' })
    .setIssuer(config.issuer)
    .setSubject(user.id)
    .setAudience(config.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(signingKey);
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: `v1.${sessionId}.${counter}.${macOf(secret, sessionId, counter).toString('base64url')}`,
    refresh_expires_in: SESSION_LIFETIME_SECONDS,
    user: { id: user.id, email: user.email, name: user.name, createdAt: user.created_at.toISOString() },
  };
}

// --- requests ---------------------------------------------------------------------------------------------
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'the body is too large');
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(422, 'not an object');
  return body as Record<string, unknown>;
}

const todoView = (row: TodoRow) => ({
  id: row.id,
  title: row.title,
  description: row.description,
  done: row.done,
  dueAt: row.due_at?.toISOString() ?? null,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  version: row.version,
});

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const json = JSON.stringify(body);
  res
    .writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    })
    .end(json);
}

// The list cursor of the service, for its default order: the fingerprint of an unfiltered -createdAt query.
const FINGERPRINT = createHash('sha256')
  .update(JSON.stringify(['-createdAt', null, null, null, null]))
  .digest('base64url')
  .slice(0, 16);

function listArguments(search: URLSearchParams): { limit: number; after?: { k: string; id: string } } {
  let limit = 20;
  let after: { k: string; id: string } | undefined;
  for (const [name, value] of search) {
    if (name === 'limit') {
      limit = Number(value);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(422, 'limit is 1 to 100');
    } else if (name === 'cursor') {
      try {
        const cursor = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Record<string, unknown>;
        if (cursor.f !== FINGERPRINT || typeof cursor.k !== 'string' || typeof cursor.id !== 'string') throw 0;
        after = { k: cursor.k, id: cursor.id };
      } catch {
        throw new HttpError(422, 'this cursor was not issued for this query');
      }
    } else throw new HttpError(422, `the floor does not implement ${name}`);
  }
  return after ? { limit, after } : { limit };
}

async function listTodos(owner: string, search: URLSearchParams) {
  const { limit, after } = listArguments(search);
  const rows = after
    ? await query<TodoRow>('list-after', LIST_AFTER, [owner, limit + 1, after.k, after.id])
    : await query<TodoRow>('list', LIST, [owner, limit + 1]);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > limit && last
      ? Buffer.from(JSON.stringify({ v: 1, f: FINGERPRINT, k: last.sort_key, id: last.id })).toString('base64url')
      : null;
  return { items: page.map(todoView), nextCursor };
}

const text = (value: unknown, max: number, min: number): string => {
  if (typeof value !== 'string' || value.length < min || value.length > max) throw new HttpError(422, 'bad text');
  return value;
};
const nullableText = (value: unknown, max: number) => (value === null ? null : text(value, max, 0));
const nullableDate = (value: unknown) => {
  if (value === null) return null;
  const date = new Date(text(value, 64, 1));
  if (Number.isNaN(date.getTime())) throw new HttpError(422, 'bad date');
  return date;
};
const bool = (value: unknown) => {
  if (typeof value !== 'boolean') throw new HttpError(422, 'bad boolean');
  return value;
};

async function createTodo(owner: string, body: Record<string, unknown>) {
  const [row] = await query<TodoRow>('insert', INSERT, [
    randomUUID(),
    owner,
    text(body.title, 500, 1),
    body.description === undefined ? null : nullableText(body.description, 10_000),
    body.done === undefined ? false : bool(body.done),
    body.dueAt === undefined ? null : nullableDate(body.dueAt),
    new Date(),
  ]);
  return todoView(row as TodoRow);
}

async function patchTodo(owner: string, id: string, body: Record<string, unknown>) {
  const has = (name: string) => body[name] !== undefined;
  const [row] = await query<TodoRow>('update', UPDATE, [
    owner,
    id,
    has('title'),
    has('title') ? text(body.title, 500, 1) : null,
    has('description'),
    has('description') ? nullableText(body.description, 10_000) : null,
    has('done'),
    has('done') ? bool(body.done) : null,
    has('dueAt'),
    has('dueAt') ? nullableDate(body.dueAt) : null,
    new Date(),
  ]);
  if (!row) throw new HttpError(404, 'no todo with this id exists');
  return todoView(row);
}

async function logIn(body: Record<string, unknown>) {
  const email = text(body.email, 254, 3).trim().toLowerCase();
  const password = text(body.password, 1024, 1).normalize('NFKC');
  const [user] = await query<{
    id: string;
    email: string;
    name: string | null;
    created_at: Date;
    password_hash: string;
  }>('user-with-hash', USER_WITH_HASH, [email]);
  if (!user || !(await verifyPassword(user.password_hash, password).catch(() => false))) {
    throw new HttpError(401, 'the email or password is incorrect');
  }
  const sessionId = randomUUID();
  const secret = randomBytes(32);
  const now = Date.now();
  await query('session-insert', SESSION_INSERT, [sessionId, user.id, secret, new Date(now)]);
  return issueTokens(user, sessionId, secret, 0, now);
}

async function refresh(body: Record<string, unknown>) {
  const match = REFRESH_TOKEN.exec(text(body.refresh_token, 512, 1));
  const invalid = () => new HttpError(401, 'the refresh token is invalid, expired or already used');
  if (!match) throw invalid();
  const [, sessionId = '', counterText = '', macText = ''] = match;
  const counter = Number(counterText);
  const [session] = await query<{ user_id: string; secret: Buffer; counter: number; last_active_at: Date }>(
    'session',
    SESSION,
    [sessionId],
  );
  if (!session) throw invalid();
  const mac = Buffer.from(macText, 'base64url');
  const expected = macOf(session.secret, sessionId, counter);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw invalid();
  const now = Date.now();
  let successor: number;
  if (counter === session.counter) {
    const rotated = await pool.query({
      name: 'session-rotate',
      text: SESSION_ROTATE,
      values: [sessionId, counter, new Date(now)],
    });
    if (rotated.rowCount !== 1) throw invalid();
    successor = counter + 1;
  } else if (counter === session.counter - 1 && now - session.last_active_at.getTime() <= REUSE_INTERVAL_MS) {
    // The services' grace for a just-spent token (a retried request): the current successor again.
    successor = session.counter;
  } else throw invalid();
  const [user] = await query<{ id: string; email: string; name: string | null; created_at: Date }>('user', USER, [
    session.user_id,
  ]);
  if (!user) throw invalid();
  return issueTokens(user, sessionId, session.secret, successor, now);
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const search = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const method = req.method ?? 'GET';

  if (path === '/readyz') return send(res, 200, { status: 'ok' });
  if (method === 'POST' && path === '/auth/login') {
    return send(res, 200, await logIn(await readJson(req)), { 'cache-control': 'no-store' });
  }
  if (method === 'POST' && path === '/auth/refresh') {
    return send(res, 200, await refresh(await readJson(req)), { 'cache-control': 'no-store' });
  }
  if (path === '/todos') {
    const owner = await ownerOf(req);
    if (method === 'GET') return send(res, 200, await listTodos(owner, search));
    if (method === 'POST') {
      const todo = await createTodo(owner, await readJson(req));
      return send(res, 201, todo, { location: `/todos/${todo.id}`, etag: `"v${todo.version}"` });
    }
  } else if (path.startsWith('/todos/')) {
    const owner = await ownerOf(req);
    const id = path.slice('/todos/'.length).toLowerCase();
    if (!UUID.test(id)) throw new HttpError(404, 'no todo with this id exists');
    if (method === 'GET') {
      const [row] = await query<TodoRow>('get', GET, [owner, id]);
      if (!row) throw new HttpError(404, 'no todo with this id exists');
      return send(res, 200, todoView(row), { etag: `"v${row.version}"` });
    }
    if (method === 'PATCH') {
      const todo = await patchTodo(owner, id, await readJson(req));
      return send(res, 200, todo, { etag: `"v${todo.version}"` });
    }
    if (method === 'DELETE') {
      const [row] = await query('delete', DELETE, [owner, id]);
      if (!row) throw new HttpError(404, 'no todo with this id exists');
      return send(res, 204);
    }
  }
  throw new HttpError(404, 'not found');
}

async function main(): Promise<void> {
  const response = await fetch(config.jwksUrl);
  if (!response.ok) throw new Error(`${config.jwksUrl} answered ${response.status}`);
  verifyKeys = createLocalJWKSet((await response.json()) as JSONWebKeySet);
  signingKey = (await generateKeyPair('ES256')).privateKey;
  await pool.query(`create schema if not exists bench_floor;
    create table if not exists bench_floor.sessions (
      id uuid primary key, user_id uuid not null, secret bytea not null, counter integer not null,
      created_at timestamptz not null, last_active_at timestamptz not null)`);

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) send(res, err.status, { error: err.message });
      else {
        console.error(err);
        send(res, 500, { error: 'internal error' });
      }
    });
  });
  // Like the services' servers: keep-alive connections outlive a client's idle pauses.
  server.keepAliveTimeout = 65_000;
  server.listen(config.port, '127.0.0.1');
  const stop = () => {
    server.close(() => pool.end().then(() => process.exit(0)));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();

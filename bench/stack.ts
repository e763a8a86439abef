/**
 * The processes the bench measures. `startStack` runs the services as `npm start` does (the same setup step and
 * entry points, from libs/devkit) but production-like and on a database and an events namespace of their own,
 * which `stop()` removes again; `startFloor` runs the floor beside them. Every process is a child of its own, so
 * its RSS and CPU can be read by pid; its output goes to a log file in the run's log directory (kept with --keep-logs).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { finished, run, runSetupSteps, services } from '../libs/devkit/src/start-stack.ts';

export interface Stack {
  authUrl: string;
  todoUrl: string;
  /** The processes serving each API; absent for a stack the bench did not start. */
  pids?: { auth: number; todo: number };
  /** The database the services use: seeding and the floor work on it too. */
  databaseUrl: string;
  issuer: string;
  audience: string;
  stop(): Promise<void>;
}

export interface Floor {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Limits that exist to stop one client or one account from hurting others, raised out of the way of a load
 * generator that is one client with a handful of accounts. Everything else stays at its production default,
 * including the pool size (DATABASE_POOL_MAX) and the per-request work the limits do (they are still counted).
 */
const RAISED_LIMITS = {
  RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: '10000000',
  RATE_LIMIT_READS_PER_MINUTE: '1000000',
  RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
  REGISTER_MAX_PER_IP_PER_HOUR: '1000000',
  LOGIN_MAX_CONSECUTIVE_FAILURES: '1000',
  LOGIN_ACCOUNT_ATTEMPTS_PER_WINDOW: '1000',
  LOGIN_MAX_FAILURES_PER_CLIENT_PER_HOUR: '1000000',
  REFRESH_MAX_PER_SESSION_PER_MINUTE: '100000',
};

const AUDIENCE = 'todo-api';
/** Databases and namespaces of runs killed before they could clean up are removed by a later run after this. */
const LEFTOVER_AGE_MS = 6 * 3_600_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

async function admin(serverUrl: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function deleteStreams(natsUrl: string, doomed: (name: string) => boolean): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: 'bench' });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const { config } of jsm.streams.list()) if (doomed(config.name)) names.push(config.name);
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/** `bench_<ms>` (databases) and `BENCH_<ms>_…` (streams): when the run that made them started. */
const startedAt = (name: string) => Number(/^bench_(\d{13})(?:_|$)/i.exec(name)?.[1] ?? Number.NaN);

/** What runs killed with SIGKILL (or a crashed machine) left behind, long after any such run could still be going. */
async function removeLeftovers(serverUrl: string, natsUrl: string): Promise<void> {
  const old = (name: string) => startedAt(name) < Date.now() - LEFTOVER_AGE_MS;
  const { rows } = await admin(serverUrl, `select datname from pg_database where datname like 'bench\\_%'`);
  for (const { datname } of rows as { datname: string }[]) {
    if (old(datname)) await admin(serverUrl, `drop database if exists ${pg.escapeIdentifier(datname)} with (force)`);
  }
  await deleteStreams(natsUrl, old);
}

/** The last lines a process wrote, for the one line that says why it did not start. */
const tail = (file: string, lines = 15) => readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');

/** Runs a script with its output appended to `logFile`. */
function spawnLogged(script: string, env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return run(script, env, ['ignore', fd, fd]);
  } finally {
    closeSync(fd);
  }
}

/** Polls `url` until it answers 200; fails as soon as the process serving it exits, with its last words. */
async function waitReady(url: string, child: ChildProcess, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the process behind ${url} exited (${child.exitCode}):\n${tail(logFile)}`);
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await delay(200);
  }
  throw new Error(`${url} was not ready after ${timeoutMs / 1000} s:\n${tail(logFile)}`);
}

/**
 * An SMTP server that accepts every message and keeps none: the auth service requires SMTP_URL in production
 * and mails each user it registers, and the bench measures the services, not a mail path.
 */
async function startMailSink(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => callback());
      stream.resume();
    },
  });
  const listening = server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => listening.once('listening', resolve).once('error', reject));
  const { port } = listening.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** SIGTERM, then SIGKILL if it has not stopped after a graceful shutdown's time. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const stopped = await Promise.race([finished(child).then(() => true), delay(20_000).then(() => false)]);
  if (!stopped) child.kill('SIGKILL');
}

export interface StackOptions {
  /** Any database URL on the PostgreSQL server to use (the bench creates its own database there). */
  serverUrl: string;
  natsUrl: string;
  logDir: string;
  /** NODE_OPTIONS for the serving processes (--cpu-prof). */
  nodeOptions?: string | undefined;
}

export async function startStack({ serverUrl, natsUrl, logDir, nodeOptions }: StackOptions): Promise<Stack> {
  const names = services();
  for (const needed of ['auth', 'todo']) {
    if (!names.includes(needed)) throw new Error(`services/${needed} is missing: the scenarios need it`);
  }
  await removeLeftovers(serverUrl, natsUrl);
  const name = `bench_${Date.now()}`;
  const databaseUrl = withDatabase(serverUrl, name);
  await admin(serverUrl, `create database ${pg.escapeIdentifier(name)}`);
  const children: ChildProcess[] = [];
  const mail = await startMailSink();
  const stop = async () => {
    await Promise.all(children.map(stopProcess));
    await mail.stop();
    await admin(serverUrl, `drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    await deleteStreams(natsUrl, (stream) => stream.startsWith(`${name.toUpperCase()}_`));
  };
  try {
    const [authPort, authOps, todoPort, todoOps] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const authUrl = `http://127.0.0.1:${authPort}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      NATS_URL: natsUrl,
      EVENTS_NAMESPACE: name,
      // A throw-away key for a throw-away database.
      AUTH_KEK: randomBytes(32).toString('base64'),
      JWT_ISSUER: authUrl,
      JWT_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: `${authUrl}/.well-known/jwks.json`,
      SMTP_URL: mail.url,
      // Tokens are minted when the users are seeded; a long --duration must not outlive them. Same cost per request.
      ACCESS_TOKEN_TTL_SECONDS: '3600',
      ...RAISED_LIMITS,
    };
    const setupLog = join(logDir, 'setup.log');
    const fd = openSync(setupLog, 'a');
    const failed = await runSetupSteps(names, env, ['ignore', fd, fd]).finally(() => closeSync(fd));
    if (failed) throw new Error(`the setup step of ${failed.service} failed (exit ${failed.code}):\n${tail(setupLog)}`);

    const start = async (service: string, port: number, opsPort: number) => {
      const logFile = join(logDir, `${service}.log`);
      const child = spawnLogged(
        `services/${service}/src/server.ts`,
        { ...env, PORT: `${port}`, OPS_PORT: `${opsPort}`, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
        logFile,
      );
      children.push(child);
      await waitReady(`http://127.0.0.1:${opsPort}/readyz`, child, logFile);
      return child;
    };
    // auth first: the todo service fetches its JWKS.
    const auth = await start('auth', authPort, authOps);
    const todo = await start('todo', todoPort, todoOps);
    return {
      authUrl,
      todoUrl: `http://127.0.0.1:${todoPort}`,
      pids: { auth: auth.pid as number, todo: todo.pid as number },
      databaseUrl,
      issuer: authUrl,
      audience: AUDIENCE,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A stack someone else started: only its URLs and its database are known, and nothing is stopped. */
export async function existingStack(urls: { auth: string; todo: string }, databaseUrl: string): Promise<Stack> {
  const discovery = await fetch(`${urls.auth}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new Error(`${urls.auth}/.well-known/openid-configuration answered ${discovery.status}`);
  const { issuer } = (await discovery.json()) as { issuer: string };
  return {
    authUrl: urls.auth,
    todoUrl: urls.todo,
    databaseUrl,
    issuer,
    audience: process.env.JWT_AUDIENCE ?? AUDIENCE,
    stop: async () => undefined,
  };
}

export async function startFloor(stack: Stack, logDir: string, nodeOptions?: string): Promise<Floor> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(logDir, 'floor.log');
  const child = spawnLogged(
    'bench/floor/server.ts',
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      FLOOR_PORT: `${port}`,
      FLOOR_DATABASE_URL: stack.databaseUrl,
      // The services' default pool size, like theirs.
      FLOOR_POOL_MAX: '5',
      FLOOR_JWKS_URL: `${stack.authUrl}/.well-known/jwks.json`,
      FLOOR_JWT_ISSUER: stack.issuer,
      FLOOR_JWT_AUDIENCE: stack.audience,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    },
    logFile,
  );
  try {
    await waitReady(`${url}/readyz`, child, logFile);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { url, pid: child.pid as number, stop: () => stopProcess(child) };
}

/** How many bytes a log file holds: what logging wrote during the run. */
export function logBytes(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/**
 * The NATS connection of a process. Credentials and TLS come from the environment (NATS_USER/NATS_PASSWORD,
 * NATS_TOKEN, NATS_CREDS_FILE, NATS_TLS_*), or from NATS_URL itself (`nats://user:pass@host`,
 * `tls://host`), which the client library would otherwise ignore. A service opens its connection in the
 * background (`openBroker`): it starts and serves while NATS is away, its outbox keeps the events, and the
 * connection comes up whenever NATS does. A one-off command connects with a deadline (`connectBroker`).
 */
import { readFileSync } from 'node:fs';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type TlsOptions,
} from '@nats-io/transport-node';
import pRetry from 'p-retry';
import { Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import type { Logger } from '../logger.ts';

export type { NatsConnection } from '@nats-io/transport-node';

/** The NATS_* settings, as `baseConfigSchema` parses them. */
export interface NatsSettings {
  NATS_URL: string;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_TOKEN?: string | undefined;
  NATS_CREDS_FILE?: string | undefined;
  NATS_TLS_CA_FILE?: string | undefined;
  NATS_TLS_CERT_FILE?: string | undefined;
  NATS_TLS_KEY_FILE?: string | undefined;
}

interface UrlCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * One server of NATS_URL: its address, the credentials it carries, and whether it requires TLS (`tls://`).
 * Only `nats://` and `tls://`: the TCP transport keeps nothing but host and port, so a WebSocket URL
 * (`ws://`, `wss://`, which the config refuses too) would silently become a TCP connection to the WebSocket
 * port; it is refused here as well, for callers that did not go through the config schema.
 */
function splitServerUrl(raw: string): { server: string; credentials: UrlCredentials; tls: boolean } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('Invalid configuration: NATS_URL must be a nats:// or tls:// URL, or a list of them');
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    throw new ConfigError(
      'Invalid configuration: NATS_URL must not be a WebSocket (ws:// or wss://) URL: the services connect over TCP; give the NATS client port as nats:// (or tls:// for TLS)',
    );
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
    throw new ConfigError('Invalid configuration: NATS_URL must be a nats:// or tls:// URL, or a list of them');
  }
  const credentials: UrlCredentials = {};
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (user && pass) Object.assign(credentials, { user, pass });
  else if (user) credentials.token = user;
  url.username = '';
  url.password = '';
  return { server: url.host, credentials, tls: url.protocol === 'tls:' };
}

const sameCredentials = (a: UrlCredentials, b: UrlCredentials) =>
  a.user === b.user && a.pass === b.pass && a.token === b.token;

/**
 * Connection options from the settings. Throws a ConfigError naming the variables when they contradict
 * each other: credentials are never silently dropped or mixed.
 */
export function natsConnectionOptions(
  settings: NatsSettings,
  { name, inboxPrefix }: { name: string; inboxPrefix?: string },
): ConnectionOptions {
  const urls = settings.NATS_URL.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const parsed = urls.map(splitServerUrl);
  const fromUrl = parsed[0]?.credentials ?? {};
  if (!parsed.every((p) => sameCredentials(p.credentials, fromUrl))) {
    throw new ConfigError('Invalid configuration: NATS_URL lists servers with different credentials');
  }
  const urlHasCredentials = Object.keys(fromUrl).length > 0;
  const methods = [
    urlHasCredentials && 'credentials in NATS_URL',
    (settings.NATS_USER || settings.NATS_PASSWORD) && 'NATS_USER/NATS_PASSWORD',
    settings.NATS_TOKEN && 'NATS_TOKEN',
    settings.NATS_CREDS_FILE && 'NATS_CREDS_FILE',
  ].filter(Boolean);
  if (methods.length > 1) {
    throw new ConfigError(`Invalid configuration: NATS credentials given twice (${methods.join(' and ')}); use one`);
  }
  if (Boolean(settings.NATS_USER) !== Boolean(settings.NATS_PASSWORD)) {
    throw new ConfigError('Invalid configuration: NATS_USER and NATS_PASSWORD must be set together');
  }
  if (Boolean(settings.NATS_TLS_CERT_FILE) !== Boolean(settings.NATS_TLS_KEY_FILE)) {
    throw new ConfigError('Invalid configuration: NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE must be set together');
  }

  const options: ConnectionOptions = {
    servers: parsed.map((p) => p.server),
    name,
    ...(inboxPrefix ? { inboxPrefix } : {}),
    // Reconnect for ever, quickly: the outbox and the consumers resume as soon as the connection is back.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    timeout: 5_000,
    // Notice a half-open connection (a node gone without a FIN) within about 30 s, not the default 4 min.
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  if (urlHasCredentials) Object.assign(options, fromUrl);
  if (settings.NATS_USER) Object.assign(options, { user: settings.NATS_USER, pass: settings.NATS_PASSWORD });
  if (settings.NATS_TOKEN) options.token = settings.NATS_TOKEN;
  if (settings.NATS_CREDS_FILE) {
    const file = settings.NATS_CREDS_FILE;
    // Read at every (re)connect, so a rotated credentials file is picked up without a restart.
    options.authenticator = credsAuthenticator(() => readFileSync(file));
  }
  const tls: TlsOptions = {};
  if (settings.NATS_TLS_CA_FILE) tls.caFile = settings.NATS_TLS_CA_FILE;
  if (settings.NATS_TLS_CERT_FILE) tls.certFile = settings.NATS_TLS_CERT_FILE;
  if (settings.NATS_TLS_KEY_FILE) tls.keyFile = settings.NATS_TLS_KEY_FILE;
  if (parsed.some((p) => p.tls) || Object.keys(tls).length > 0) options.tls = tls;
  return options;
}

/** The URL for a log line: never the credentials. */
export const redactNatsUrl = (url: string): string => url.replace(/\/\/[^@/,]*@/g, '//***@');

export type BrokerState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** A service's connection, opened in the background and kept for the process's lifetime. */
export interface Broker {
  /** Resolves with the connection once it is first established; never rejects while the broker is open. */
  readonly connection: Promise<NatsConnection>;
  /** The connection while it is up, undefined while it is being (re-)established or after close. */
  current(): NatsConnection | undefined;
  state(): BrokerState;
  /** Called on every reconnect, so that waiting work (the outbox relay) goes at once. */
  onReconnect(listener: () => void): void;
  /** Drains the connection (or stops trying to open it). */
  close(): Promise<void>;
}

export interface BrokerOptions {
  settings: NatsSettings;
  /** The client name servers show, and the inbox prefix `_INBOX_<name>` the server's permissions allow. */
  name: string;
  logger: Logger;
  registry?: Registry;
}

const inboxPrefixOf = (name: string) => `_INBOX_${name}`;

/** Opens the connection in the background, retrying until it works or `close()` is called. */
export function openBroker({ settings, name, logger, registry }: BrokerOptions): Broker {
  const options = natsConnectionOptions(settings, { name, inboxPrefix: inboxPrefixOf(name) });
  const where = redactNatsUrl(settings.NATS_URL);
  const listeners: (() => void)[] = [];
  const stopping = new AbortController();
  let state: BrokerState = 'connecting';
  let nc: NatsConnection | undefined;

  const connected = new Gauge({
    name: 'nats_connected',
    help: '1 while the NATS connection is up, 0 while it is being (re-)established.',
    registers: registry ? [registry] : [],
  });
  connected.set(0);

  const connection = (async () => {
    nc = await pRetry(() => connect(options), {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 250,
      maxTimeout: 5_000,
      signal: stopping.signal,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        // Warnings while it may be a slow start; an error once it is clearly an outage.
        const context = { attempt: attemptNumber, retryInMs: retryDelay, nats: where, reason: error.message };
        if (attemptNumber === 5) logger.error(context, 'NATS still not reachable; the outbox keeps the events');
        else logger.warn(context, 'NATS not reachable yet');
      },
    });
    state = 'connected';
    connected.set(1);
    logger.info({ nats: where }, 'NATS connected');
    void watch(nc);
    return nc;
  })();
  // Nobody may be awaiting yet; a failure here only means close() came first.
  connection.catch(() => undefined);

  async function watch(conn: NatsConnection): Promise<void> {
    for await (const status of conn.status()) {
      if (status.type === 'disconnect') {
        state = 'disconnected';
        connected.set(0);
        logger.warn({ nats: where }, 'NATS disconnected; reconnecting');
      } else if (status.type === 'reconnect') {
        state = 'connected';
        connected.set(1);
        logger.info({ nats: where }, 'NATS reconnected');
        for (const listener of listeners) listener();
      } else if (status.type === 'error') {
        // Permission violations and authorization errors arrive here; they mean the configuration is wrong.
        logger.error({ nats: where, err: status.error }, 'NATS reported an error');
      }
    }
  }

  return {
    connection,
    current: () => (state === 'connected' ? nc : undefined),
    state: () => state,
    onReconnect: (listener) => {
      listeners.push(listener);
    },
    async close() {
      stopping.abort();
      state = 'closed';
      connected.set(0);
      if (nc && !nc.isClosed()) {
        await nc.drain().catch((err: unknown) => logger.warn({ err }, 'NATS drain failed'));
      }
    },
  };
}

/** Connects for a one-off command (the setup step), retrying until `deadlineMs`. */
export async function connectBroker({
  settings,
  name,
  logger,
  deadlineMs = 30_000,
}: Omit<BrokerOptions, 'registry'> & { deadlineMs?: number }): Promise<NatsConnection> {
  const options = natsConnectionOptions(settings, { name });
  try {
    return await pRetry(() => connect(options), {
      retries: Number.POSITIVE_INFINITY,
      maxRetryTime: deadlineMs,
      minTimeout: 250,
      maxTimeout: 4_000,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) =>
        logger.warn({ attempt: attemptNumber, retryInMs: retryDelay, reason: error.message }, 'NATS not reachable yet'),
    });
  } catch (err) {
    throw new Error(`could not connect to NATS at ${redactNatsUrl(settings.NATS_URL)}`, { cause: err });
  }
}

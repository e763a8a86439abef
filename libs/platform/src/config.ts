/**
 * Configuration from the environment: parsed once at start-up by a zod schema, frozen,
 * and failing fast with one line that names every offending variable.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  const problems = result.success
    ? sharedRules(result.data)
    : result.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        return `${name} ${problemOf(issue, env[name])}`;
      });
  if (!result.success || problems.length > 0) {
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

/**
 * One variable's problem in words, never quoting its value. zod does not report the input, so whether the
 * variable is set tells a missing one from one of the wrong type; zod's own wording for a number out of bounds
 * ("Too big: expected number to be <=10") is put in ours, and a message a setting wrote itself stays as it is.
 */
function problemOf(issue: z.core.$ZodIssue, given: string | undefined): string {
  if (issue.code === 'invalid_type')
    return given === undefined || given === '' ? 'is required' : `must be a ${issue.expected}`;
  if (issue.code === 'too_big' && issue.origin === 'number' && issue.message.startsWith('Too big')) {
    return `must be at most ${issue.maximum}`;
  }
  if (issue.code === 'too_small' && issue.origin === 'number' && issue.message.startsWith('Too small')) {
    return `must be at least ${issue.minimum}`;
  }
  return issue.message;
}

/**
 * Rules between shared settings. They are checked here rather than by a refinement of `baseConfigSchema`,
 * which each service extends (zod does not carry a refinement over to the extended object).
 */
function sharedRules(config: unknown): string[] {
  const { HTTP_HEADERS_TIMEOUT_MS: headers, HTTP_REQUEST_TIMEOUT_MS: request } = config as Partial<BaseConfig>;
  return headers !== undefined && request !== undefined && headers > request
    ? ['HTTP_HEADERS_TIMEOUT_MS must be at most HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)']
    : [];
}

/** An optional setting; an empty value counts as unset (compose and Kubernetes often pass `X=`). */
const optionalString = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

/**
 * An origin exactly as a browser sends it in `Origin`: http(s), lower-case host (punycode), no default port,
 * no path. Anything else could never match, so it is refused rather than silently ignored.
 */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) && url.origin === value && !value.includes('*');
  } catch {
    return false;
  }
}

/** Variables shared by both services. Each service extends this with its own. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  url: (protocols: readonly string[], fallback?: string) => {
    const base = z.string().refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL` },
    );
    return fallback === undefined ? base : base.default(fallback);
  },
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  optional: optionalString,
};

/**
 * Tracing is on when an OTLP endpoint is configured. The other OTEL_* variables (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_TRACES_SAMPLER, …) are read by the SDK itself; the service name defaults to the service's own. Read by
 * `runService` before anything else is loaded, so apart from the services' own configuration.
 */
export const tracingConfigSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString().pipe(env.url(['http:', 'https:']).optional()),
  OTEL_SERVICE_NAME: optionalString(),
});

/**
 * What is wrong with a NATS_URL, if anything. The services connect with the TCP transport
 * (`@nats-io/transport-node`), which takes `nats://` and `tls://` (TLS required) servers; a WebSocket URL
 * (`ws://`, `wss://`) would be read as a TCP address on the WebSocket port and fail obscurely at connect
 * time, so it is refused here by name.
 */
function natsUrlProblem(value: string): string | undefined {
  for (const one of value.split(',')) {
    let protocol: string;
    try {
      protocol = new URL(one.trim()).protocol;
    } catch {
      return 'must be a nats:// or tls:// URL, or a comma-separated list of them';
    }
    if (protocol === 'ws:' || protocol === 'wss:') {
      return 'must not be a WebSocket (ws:// or wss://) URL: the services connect over TCP; give the NATS client port as nats:// (or tls:// for TLS)';
    }
    if (protocol !== 'nats:' && protocol !== 'tls:') {
      return 'must be a nats:// or tls:// URL, or a comma-separated list of them';
    }
  }
  return undefined;
}

export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().min(1).default('0.0.0.0'),
  // What the services connect to: on Neon the pooled (`-pooler`) endpoint, a PgBouncer in transaction mode. No
  // service depends on session state, and no startup parameter is sent that a pooler would refuse.
  DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/todo_platform'),
  // A PEM file of the CA(s) the database server's certificate must chain to, for `sslmode=verify-full` against a
  // private CA (Neon's certificates chain to public CAs, which Node trusts already). Applies to both URLs.
  DATABASE_CA_FILE: optionalString(),
  DATABASE_POOL_MAX: env.int(5, 1, 100),
  DATABASE_CONNECT_TIMEOUT_MS: env.int(10_000, 100),
  // The longest a statement of the services may run. Applied by the setup step as the setting of DATABASE_URL's
  // role in the database (a transaction pooler refuses it as a startup parameter), and checked by each service at
  // start-up. 0 leaves the server's or role's setting alone.
  DATABASE_STATEMENT_TIMEOUT_MS: env.int(0, 0),
  // The longest a query waits for a pooled connection, whether for a free one or for a new one being opened
  // (pg has one timer for both, so it also caps DATABASE_CONNECT_TIMEOUT_MS in the services). A request that
  // waited this long for a full pool is answered 503 `database-busy`.
  DATABASE_ACQUIRE_TIMEOUT_MS: env.int(3_000, 100, 60_000),
  // Queries that may wait for a pooled connection at once; with this many waiting, the next is refused at once
  // (503 `database-busy`) instead of joining a queue whose tail would time out anyway.
  DATABASE_POOL_MAX_WAITING: env.int(100, 0, 100_000),
  // nats:// or tls:// (TLS required), one server or a comma-separated list. Not ws:// or wss://: the services
  // connect with the TCP transport, which would take the WebSocket port for a client port (see `natsUrlProblem`).
  NATS_URL: z
    .string()
    .default('nats://127.0.0.1:4222')
    .superRefine((value, ctx) => {
      const problem = natsUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  NATS_USER: optionalString(),
  NATS_PASSWORD: optionalString(),
  NATS_TOKEN: optionalString(),
  NATS_CREDS_FILE: optionalString(),
  NATS_TLS_CA_FILE: optionalString(),
  NATS_TLS_CERT_FILE: optionalString(),
  NATS_TLS_KEY_FILE: optionalString(),
  EVENTS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'may hold only letters, digits, _ and -')
    .default(''),
  // How many proxies in front of the service append to X-Forwarded-For (the ingress: 1). The client address is
  // the one the outermost of them saw; 0 ignores the header (the socket's address is the client).
  TRUST_PROXY_HOPS: env.int(0, 0, 10),
  // Requests per client address (an IPv6 /64) and minute, per replica, on every API route before authentication:
  // a floor against one address flooding a replica, far above what an office behind one NAT sends.
  RATE_LIMIT_CLIENT_REQUESTS_PER_MINUTE: env.int(6_000, 1, 10_000_000),
  // A client must send its request headers within HTTP_HEADERS_TIMEOUT_MS and its whole request (body
  // included) within HTTP_REQUEST_TIMEOUT_MS, or get a 408 and lose the connection (a slow-loris client).
  HTTP_HEADERS_TIMEOUT_MS: env.int(15_000, 100, 300_000),
  HTTP_REQUEST_TIMEOUT_MS: env.int(30_000, 100, 600_000),
  // An idle keep-alive connection stays open this long: longer than the proxy in front keeps idle connections
  // to the service (ingress-nginx and AWS ALB: 60 s; Google Cloud's HTTP(S) load balancers: 600 s), so the
  // proxy always closes first and never sends a request into a connection the service is closing.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: env.int(65_000, 1_000, 3_600_000),
  SHUTDOWN_DELAY_MS: env.int(0, 0, 60_000),
  SHUTDOWN_TIMEOUT_MS: env.int(10_000, 0, 120_000),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must look like 256kb or 1mb')
    .default('256kb'),
  // Browser apps on other origins that may call the API (CORS): exact origins, comma-separated; none by default.
  CORS_ORIGINS: env.list('').superRefine((origins, ctx) => {
    origins.forEach((origin, i) => {
      if (!isOrigin(origin)) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${i + 1} is not an origin: list each as scheme://host[:port] (http or https, lower case, no path or trailing slash, no default port, no wildcard)`,
        });
      }
    });
  }),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

/**
 * What the setup step (`npm run migrate`) needs: the database, and NATS with credentials allowed to create
 * streams and consumers (not the service's own NATS user).
 */
export const migrationConfigSchema = baseConfigSchema
  .pick({
    LOG_LEVEL: true,
    DATABASE_URL: true,
    DATABASE_CA_FILE: true,
    DATABASE_POOL_MAX: true,
    DATABASE_CONNECT_TIMEOUT_MS: true,
    DATABASE_STATEMENT_TIMEOUT_MS: true,
    NATS_URL: true,
    NATS_USER: true,
    NATS_PASSWORD: true,
    NATS_TOKEN: true,
    NATS_CREDS_FILE: true,
    NATS_TLS_CA_FILE: true,
    NATS_TLS_CERT_FILE: true,
    NATS_TLS_KEY_FILE: true,
    EVENTS_NAMESPACE: true,
  })
  .extend({
    /**
     * Where the migrations run: a direct (unpooled) endpoint, Neon's host without `-pooler`. Defaults to
     * DATABASE_URL, which works through a transaction pooler too (the migration lock is transaction-scoped).
     */
    DATABASE_DIRECT_URL: optionalString().pipe(env.url(['postgres:', 'postgresql:']).optional()),
    /** `lock_timeout` of the migrations: how long a DDL statement may wait for a table lock before failing. */
    MIGRATION_LOCK_TIMEOUT_MS: env.int(10_000, 0, 600_000),
    /** Copies of each stream in a NATS cluster (3 in production clusters). */
    NATS_STREAM_REPLICAS: env.int(1, 1, 5),
  });
export type MigrationConfig = z.infer<typeof migrationConfigSchema>;

/** What `node migrate.ts wait` (a pod's init container) reads: the service's own database connection only. */
export const schemaWaitConfigSchema = baseConfigSchema.pick({
  LOG_LEVEL: true,
  DATABASE_URL: true,
  DATABASE_CA_FILE: true,
});

/** One line for a fatal start-up error: the message and its causes, no stack. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/**
 * Tracing with OpenTelemetry, for a process with OTEL_EXPORTER_OTLP_ENDPOINT set. `runService` imports this
 * module only then (a dynamic import), so a process that does not trace never loads the SDK; all the rest of
 * the code uses `@opentelemetry/api`, whose no-op implementation stands in until an SDK registers itself.
 *
 * The instrumentations (http, koa, pg) patch modules as they are loaded, and koa and pg are ES modules that
 * the service's own code imports. So this goes in two steps: `instrument()` hooks the module loader
 * (import-in-the-middle, through `module.register`) and enables the instrumentations, before the service's
 * modules are imported; `startTracing()` then starts the SDK under the service's name. Every other OTEL_*
 * variable (exporter, protocol, headers, sampler, resource attributes, propagators) is the SDK's to read.
 *
 * Both steps are once per process (the patches are process-wide); calling them again changes nothing.
 */
import { createRequire } from 'node:module';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KoaInstrumentation, KoaLayerType } from '@opentelemetry/instrumentation-koa';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

export { SpanKind } from '@opentelemetry/api';
export type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** Probes and scrapes of the ops port: a trace each every few seconds would bury the ones that matter. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * MikroORM sends its statements with the values written in (`CompiledQuery.raw`), so a span keeps the
 * statement and never a value: string literals (emails, hashes, whatever users wrote, ids) and numbers
 * become `?`; digits in identifiers (`e0`) and placeholders (`$1`) stay.
 */
const SQL_LITERALS = /'(?:[^']|'')*'|(?<![\w$])\d+(?:\.\d+)?\b/g;
const withoutValues = (sql: string): string => sql.replace(SQL_LITERALS, '?');

function createInstrumentations() {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?', 1)[0] ?? ''),
      // `q` is what a user searched their todos for.
      redactedQueryParamsServer: ['q'],
    }),
    // One span per route handler (which also names the HTTP span after the route); a span per middleware
    // would add a dozen nested spans to every request and say little.
    new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
    new PgInstrumentation({
      // The outbox relay and the readiness check query on timers; only work done for a request or an event is traced.
      requireParentSpan: true,
      requestHook(span, { query }) {
        span.setAttribute('db.query.text', withoutValues(query.text));
      },
    }),
  ];
}

let instrumentations: ReturnType<typeof createInstrumentations> | undefined;

/**
 * What the instrumentations patch. koa and pg are CommonJS packages whose ES-module entry re-exports the
 * CommonJS one (pg loads pg-pool, also patched, with `require`).
 */
const INSTRUMENTED_MODULES = ['node:http', 'node:https', 'koa', 'pg'];

/**
 * Enables the instrumentations and loads what they patch, patched. Only what is loaded afterwards is patched:
 * call it before the service's modules are imported.
 */
export function instrument(): void {
  if (instrumentations) return;
  // Creating them enables them: each hooks `require` (require-in-the-middle) for the modules it patches.
  instrumentations = createInstrumentations();
  // An `import` does not go through `require`, so an ES-module loader hook would be needed to patch what the
  // service imports. Instead each module is required here, once, through the hooks that patch it; every later
  // `import` of it, by name or by path (as vitest does), gets that same, patched, module.
  const require = createRequire(import.meta.url);
  for (const name of INSTRUMENTED_MODULES) require(name);
}

export interface Tracing {
  /** Exports what is still buffered and stops tracing. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of every span. */
  serviceName: string;
  /** Where spans go; by default the exporter the OTEL_* variables configure (OTLP). */
  spanProcessors?: SpanProcessor[];
}

let running: Tracing | undefined;

/** Starts the SDK (instrumenting first if that has not happened yet). A second call returns the first's tracing. */
export function startTracing({ serviceName, spanProcessors }: TracingOptions): Tracing {
  if (running) return running;
  instrument();
  const sdk = new NodeSDK({
    serviceName,
    instrumentations,
    // Traces only: the metrics are Prometheus' (/metrics), the logs JSON lines on stdout that carry the trace id.
    metricReaders: [],
    logRecordProcessors: [],
    ...(spanProcessors ? { spanProcessors } : {}),
  });
  sdk.start();
  running = { shutdown: () => sdk.shutdown() };
  return running;
}

export interface InMemoryTracing extends Tracing {
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
}

/**
 * For tests: the production setup (instrumentations, propagator, context manager), with every span kept in
 * memory. Like `instrument()`, it must run before the modules it should patch are imported.
 */
export function traceInMemory(serviceName = 'test'): InMemoryTracing {
  if (running) throw new TypeError('tracing has already started in this process; trace in memory before anything else');
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ serviceName, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { ...tracing, spans: () => exporter.getFinishedSpans() };
}

/**
 * Tracing is on exactly when OTEL_EXPORTER_OTLP_ENDPOINT is set. Off, a service pays nothing for it: the SDK and
 * the instrumentations are never loaded and nothing is recorded. On, the instrumented modules are patched
 * before the service is loaded. Each story starts `runService` in a process of its own (module hooks and the
 * global tracer provider are per process), with a `load` that reports what it finds and exits.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const platform = fileURLToPath(new URL('..', import.meta.url));
const main = new URL('../src/service/main.ts', import.meta.url).href;

/** Records every module resolved (imported or required) in the process, from its first line on. */
const recordLoads = `data:text/javascript,${encodeURIComponent(`
  import { registerHooks } from 'node:module';
  globalThis.loaded = [];
  registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); globalThis.loaded.push(r.url); return r; } });
`)}`;

/** Runs a service whose `load` prints what the process holds at that moment, instead of loading a service. */
const probe = `
  const { runService } = await import(${JSON.stringify(main)});
  await runService(async () => {
    const { trace, propagation } = await import('@opentelemetry/api');
    const koa = await import('koa');
    const span = trace.getTracer('probe').startSpan('probe');
    console.log(JSON.stringify({
      loaded: globalThis.loaded.filter((url) => /node_modules\\/(@opentelemetry\\/(?!api\\/)|require-in-the-middle|import-in-the-middle)/.test(url)),
      koaPatched: koa.default.prototype.use.__wrapped === true,
      recording: span.isRecording(),
      propagated: propagation.fields(),
    }));
    process.exit(0);
  });
`;

interface Probe {
  loaded: string[];
  koaPatched: boolean;
  recording: boolean;
  propagated: string[];
}

async function startWith(env: Record<string, string>): Promise<Probe> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', recordLoads, '--input-type=module', '--eval', probe],
    { cwd: platform, env: { ...inherited, ...env }, timeout: 20_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Probe;
}

describe('tracing is on exactly when OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
  it('when it is unset, starting a service loads no part of the SDK, patches nothing and records nothing', async () => {
    const found = await startWith({});
    expect(found).toEqual({ loaded: [], koaPatched: false, recording: false, propagated: [] });
  });

  it('when it is set, the SDK is loaded and koa patched before the service is loaded', async () => {
    const found = await startWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
    expect(found.loaded.some((url) => url.includes('/@opentelemetry/sdk-node/'))).toBe(true);
    expect(found.koaPatched).toBe(true);
  });

  it('when it is not a URL, the service does not start, and says which variable is wrong', async () => {
    await expect(startWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).rejects.toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT must be a http:\/\/ or https:\/\/ URL/,
    );
  });
});

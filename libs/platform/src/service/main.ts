/**
 * The process entry points, one line each in a service: `runService` (the long-running server), `runSetup`
 * (the deployment's setup step: migrations, then streams and durable consumers), `runCommand` (any
 * one-off command) and `runDatabaseCommand` (a one-off command on the service's own database). Configuration
 * is parsed first and a bad value stops the process with one line. SIGTERM and SIGINT are handled from the
 * first moment: during start-up or a command they end the process at once (nothing to drain yet); once a
 * service runs, the first one stops it gracefully and a second one exits.
 *
 * This module imports nothing heavy (no database, HTTP or NATS client): `runService` must be able to start
 * tracing before the modules it instruments (koa, pg) are first imported, so everything else is imported
 * when it is needed (`@todo/platform/main` is this module alone; `@todo/platform/service` also has the rest).
 */
import pTimeout from 'p-timeout';
import type { z } from 'zod';
import {
  describeError,
  loadConfig,
  migrationConfigSchema,
  schemaWaitConfigSchema,
  tracingConfigSchema,
} from '../config.ts';
import type { MikroORM } from '../db/connect.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import type { ServiceBuilder, ServiceConfig, ServiceDefinition } from './definition.ts';
import type { RunningService } from './start-service.ts';

type Handler = (signal: NodeJS.Signals) => void;
let current: Handler | undefined;

/** One handler for SIGTERM and SIGINT at a time; the entry points swap it as the process moves on. */
function onSignal(handler: Handler): void {
  if (!current) {
    process.on('SIGTERM', (signal) => current?.(signal));
    process.on('SIGINT', (signal) => current?.(signal));
  }
  current = handler;
}

/**
 * Until a service serves, a signal ends the process at once (there is nothing to drain). Installed before
 * anything else is loaded: as PID 1 in a container, a process without a handler ignores SIGTERM, and a pod
 * deleted while it loads or waits for its database would run on until SIGKILL.
 */
function exitDuringStartUp(logger: Logger | undefined, what: string): void {
  onSignal((signal) => {
    if (logger) logger.warn({ signal }, `${what} interrupted`);
    else console.error(`${what} interrupted by ${signal}`);
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

function configOrExit<S extends z.ZodType>(schema: S): Readonly<z.infer<S>> {
  try {
    return loadConfig(schema);
  } catch (err) {
    console.error(describeError(err));
    process.exit(1);
  }
}

/** How long the stop sequence waits for the last spans to be exported. */
const TRACING_FLUSH_TIMEOUT_MS = 5_000;

/** A service, loaded by `runService` once tracing (when on) has hooked the module loader. */
export interface ServiceModules<C extends ServiceConfig, X> {
  definition: ServiceDefinition<C>;
  build: ServiceBuilder<C, X>;
}

/**
 * Runs a long-lived service until a signal stops it. `load` imports the service (its description and its
 * builder) with dynamic imports: with tracing on, the SDK's module hooks must be in place before koa and pg
 * are first imported, or they are not instrumented. With tracing off nothing of the SDK is loaded.
 */
export async function runService<C extends ServiceConfig, X>(load: () => Promise<ServiceModules<C, X>>): Promise<void> {
  exitDuringStartUp(undefined, 'start-up');
  const tracingConfig = configOrExit(tracingConfigSchema);
  const tracing = tracingConfig.OTEL_EXPORTER_OTLP_ENDPOINT ? await import('../telemetry/tracing.ts') : undefined;
  tracing?.instrument();
  const { definition, build } = await load();
  const config = configOrExit(definition.config);
  const logger = createLogger({ service: definition.name, level: config.LOG_LEVEL });
  exitDuringStartUp(logger, 'start-up');
  const traces = tracing?.startTracing({ serviceName: tracingConfig.OTEL_SERVICE_NAME ?? definition.name });
  let service: RunningService<X>;
  try {
    const { startService } = await import('./start-service.ts');
    service = await startService(definition, build, config, logger);
  } catch (err) {
    logger.fatal({ err }, `${definition.name} failed to start`);
    if (traces) await flushTraces(traces, logger);
    process.exit(1);
  }
  if (traces && tracingConfig.OTEL_EXPORTER_OTLP_ENDPOINT) {
    logger.info({ endpoint: new URL(tracingConfig.OTEL_EXPORTER_OTLP_ENDPOINT).origin }, 'tracing');
  }
  let stopping = false;
  onSignal((signal) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service
      .stop()
      .then(
        () => 0,
        (err: unknown) => {
          logger.error({ err }, 'unclean shutdown');
          return 1;
        },
      )
      .then(async (code) => {
        if (traces) await flushTraces(traces, logger);
        if (code === 0) logger.info('stopped');
        process.exit(code);
      });
  });
}

/** Exports the spans still buffered, for a bounded time: an unreachable collector must not hold up a shutdown. */
async function flushTraces(tracing: Tracing, logger: Logger): Promise<void> {
  await pTimeout(tracing.shutdown(), { milliseconds: TRACING_FLUSH_TIMEOUT_MS }).catch((err: unknown) =>
    logger.warn({ err }, 'could not export the last spans'),
  );
}

/** Runs a one-off command and exits 0, or 1 with one line saying why. */
export async function runCommand<S extends z.ZodType<{ LOG_LEVEL: string }>>(
  name: string,
  schema: S,
  command: (config: Readonly<z.infer<S>>, logger: Logger) => Promise<void>,
): Promise<void> {
  exitDuringStartUp(undefined, name);
  const config = configOrExit(schema);
  const logger = createLogger({ service: name, level: config.LOG_LEVEL as 'info' });
  exitDuringStartUp(logger, name);
  try {
    await command(config, logger);
  } catch (err) {
    console.error(`${name}: ${describeError(err)}`);
    process.exit(1);
  }
}

/**
 * A one-off command on the service's own database (`keys:rotate`, `keys:rewrap`), named `<service>-<name>`:
 * it gets the service's configuration and a connection to its schema, closed after it however it ended.
 */
export function runDatabaseCommand<C extends ServiceConfig>(
  definition: ServiceDefinition<C>,
  name: string,
  command: (config: Readonly<C>, logger: Logger, orm: MikroORM) => Promise<void>,
): Promise<void> {
  return runCommand(`${definition.name}-${name}`, definition.config, async (config, logger) => {
    const [{ connectDatabase }, { databaseOptions }] = await Promise.all([
      import('../db/connect.ts'),
      import('./start-service.ts'),
    ]);
    const orm = await connectDatabase(databaseOptions(definition, config, logger));
    try {
      await command(config, logger, orm);
    } finally {
      await orm.close();
    }
  });
}

/**
 * The setup step of a deployment (`npm run migrate`, the compose migrate services, the migration Jobs):
 * applies the schema's pending migrations on the direct endpoint (DATABASE_DIRECT_URL, else DATABASE_URL),
 * sets the services' statement timeout on DATABASE_URL's role, then creates or updates the service's streams
 * and durable consumers. It needs database rights to change the schema and NATS credentials allowed to manage
 * JetStream. With the argument `wait` it changes nothing and only waits until the schema has every migration
 * of this code: a new pod's init container, so that no pod serves on an older schema.
 */
export function runSetup(definition: ServiceDefinition, [command] = process.argv.slice(2)): Promise<void> {
  if (command === 'wait') return waitForMigrations(definition);
  if (command !== undefined) {
    console.error(`${definition.name}-setup: unknown argument ${command}: none (migrate) or wait`);
    process.exit(2);
  }
  return runCommand(`${definition.name}-setup`, migrationConfigSchema, async (config, logger) => {
    const [
      { migrateDatabase },
      { setRoleStatementTimeout },
      { withCaFile },
      { connectBroker },
      { setUpEvents },
      { databaseOptions },
    ] = await Promise.all([
      import('../db/migrate.ts'),
      import('../db/statement-timeout.ts'),
      import('../db/connect.ts'),
      import('../events/connection.ts'),
      import('../events/setup.ts'),
      import('./start-service.ts'),
    ]);
    const direct = { ...config, DATABASE_URL: config.DATABASE_DIRECT_URL ?? config.DATABASE_URL };
    const report = await migrateDatabase(databaseOptions(definition, direct, logger), {
      lockTimeoutMs: config.MIGRATION_LOCK_TIMEOUT_MS,
    });
    logger.info(report, report.applied.length ? 'migrations applied' : 'schema up to date');
    if (config.DATABASE_STATEMENT_TIMEOUT_MS > 0) {
      // On the services' own URL: the role they connect as, which may differ from the migrations' role.
      await setRoleStatementTimeout(
        withCaFile(config.DATABASE_URL, config.DATABASE_CA_FILE),
        config.DATABASE_STATEMENT_TIMEOUT_MS,
      );
      logger.info({ statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS }, 'statement timeout set on the role');
    }
    const nc = await connectBroker({ settings: config, name: `${definition.name}-setup`, logger });
    try {
      const events = await setUpEvents(nc, definition.events(config.EVENTS_NAMESPACE), {
        replicas: config.NATS_STREAM_REPLICAS,
      });
      logger.info(events, 'streams and consumers ready');
    } finally {
      await nc.close();
    }
  });
}

/** `node migrate.ts wait`: waits until the service's schema has every migration of this code; changes nothing. */
function waitForMigrations(definition: ServiceDefinition): Promise<void> {
  return runCommand(`${definition.name}-schema-wait`, schemaWaitConfigSchema, async (config, logger) => {
    const [{ waitForSchema }, { withCaFile }] = await Promise.all([
      import('../db/migrate.ts'),
      import('../db/connect.ts'),
    ]);
    const { schema, migrations } = definition.database;
    await waitForSchema({ url: withCaFile(config.DATABASE_URL, config.DATABASE_CA_FILE), schema, migrations, logger });
    logger.info({ schema, migrations: migrations.length }, 'the schema is at this version');
  });
}

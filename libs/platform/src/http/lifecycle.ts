/**
 * A service process from start to exit: configuration (a bad value stops it with one line), the service,
 * and the signals. The first SIGTERM/SIGINT stops it once; a second one exits at once.
 */
import type { z } from 'zod';
import { describeError, loadConfig } from '../config.ts';
import { createLogger, type Logger } from '../logger.ts';

export function onShutdownSignal(logger: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop(signal).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

export interface Stoppable {
  stop(): Promise<void>;
}

/** Runs a long-lived service until a signal stops it. */
export async function runService<S extends z.ZodType<{ LOG_LEVEL: string }>>(
  name: string,
  schema: S,
  start: (config: Readonly<z.infer<S>>, logger: Logger) => Promise<Stoppable>,
): Promise<void> {
  const config = configOrExit(schema);
  const logger = createLogger({ service: name, level: config.LOG_LEVEL as 'info' });
  try {
    const service = await start(config, logger);
    onShutdownSignal(logger, () => service.stop());
  } catch (err) {
    logger.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
}

/** Runs a one-off command (migrations, key rotation) and exits 0, or 1 with one line saying why. */
export async function runCommand<S extends z.ZodType<{ LOG_LEVEL: string }>>(
  name: string,
  schema: S,
  command: (config: Readonly<z.infer<S>>, logger: Logger) => Promise<void>,
): Promise<void> {
  const config = configOrExit(schema);
  try {
    await command(config, createLogger({ service: name, level: config.LOG_LEVEL as 'info' }));
  } catch (err) {
    console.error(`${name}: ${describeError(err)}`);
    process.exit(1);
  }
}

function configOrExit<S extends z.ZodType>(schema: S): Readonly<z.infer<S>> {
  try {
    return loadConfig(schema);
  } catch (err) {
    console.error(describeError(err));
    process.exit(1);
  }
}

/** The todo service process: the only module with side effects. */
import { loadConfig } from '@todo/platform/config';
import { onShutdownSignal } from '@todo/platform/http';
import { createLogger } from '@todo/platform/logger';
import { todoConfigSchema } from './config.ts';
import { SERVICE_NAME, startTodoService } from './service.ts';

async function main(): Promise<void> {
  const config = loadConfig(todoConfigSchema);
  const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  try {
    const service = await startTodoService(config, logger);
    onShutdownSignal(logger, () => service.stop());
  } catch (err) {
    logger.fatal({ err }, 'todo service failed to start');
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  // Configuration errors land here: one line naming the variable, no stack.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

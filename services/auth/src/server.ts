/** The auth service process: the only module with side effects. */
import { loadConfig } from '@todo/platform/config';
import { onShutdownSignal } from '@todo/platform/http';
import { createLogger } from '@todo/platform/logger';
import { authConfigSchema } from './config.ts';
import { SERVICE_NAME, startAuthService } from './service.ts';

async function main(): Promise<void> {
  const config = loadConfig(authConfigSchema);
  const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  try {
    const service = await startAuthService(config, logger);
    onShutdownSignal(logger, () => service.stop());
  } catch (err) {
    logger.fatal({ err }, 'auth service failed to start');
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  // Configuration errors land here: one line naming the variable, no stack.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/** `npm run migrate`: applies the todo schema's pending migrations, then exits. Never run by a request. */
import { loadConfig } from '@todo/platform/config';
import { migrateDatabase } from '@todo/platform/db';
import { createLogger } from '@todo/platform/logger';
import { todoMigrationConfigSchema } from './config.ts';
import { databaseOptions, SERVICE_NAME } from './service.ts';

try {
  const config = loadConfig(todoMigrationConfigSchema);
  const logger = createLogger({ service: `${SERVICE_NAME}-migrate`, level: config.LOG_LEVEL });
  const report = await migrateDatabase(databaseOptions(config, logger));
  logger.info(report, report.applied.length ? 'migrations applied' : 'schema up to date');
} catch (err) {
  console.error(
    err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : err,
  );
  process.exit(1);
}

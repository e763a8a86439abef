/** `npm run migrate`: applies the auth schema's pending migrations, then exits. Never run by a request. */
import { migrationConfigSchema } from '@todo/platform/config';
import { migrateDatabase } from '@todo/platform/db';
import { runCommand } from '@todo/platform/http';
import { databaseOptions, SERVICE_NAME } from './service.ts';

await runCommand(`${SERVICE_NAME}-migrate`, migrationConfigSchema, async (config, logger) => {
  const report = await migrateDatabase(databaseOptions(config, logger));
  logger.info(report, report.applied.length ? 'migrations applied' : 'schema up to date');
});

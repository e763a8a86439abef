export {
  connectDatabase,
  type DatabaseOptions,
  type DatabaseSettings,
  databaseOptionsFrom,
  databaseReady,
  type MikroORM,
  ormOptions,
  type RetryOptions,
  registerPoolMetrics,
  type SchemaDefinition,
} from './connect.ts';
export { newId } from './ids.ts';
export { ensureDatabaseExists, type MigrationReport, migrateDatabase } from './migrate.ts';
export { type DatabaseState, requestScopedEntityManager } from './request-context.ts';

export { type Columns, columnsOf, type Fields, type StoredValues, toJson, toStored } from './columns.ts';
export {
  connectDatabase,
  type DatabaseOptions,
  type DatabaseSettings,
  databaseOptionsFrom,
  databaseReady,
  type MikroORM,
  ormOptions,
  registerPoolMetrics,
  type SchemaDefinition,
  withCaFile,
} from './connect.ts';
export { permanentConnectionProblem } from './connection-errors.ts';
export { newId } from './ids.ts';
export {
  ensureDatabaseExists,
  type MigrationReport,
  type MigrationSettings,
  migrateDatabase,
  pendingMigrations,
  waitForSchema,
} from './migrate.ts';
export { type DatabaseState, requestScopedEntityManager } from './request-context.ts';
export { checkStatementTimeout, sessionStatementTimeout, setRoleStatementTimeout } from './statement-timeout.ts';
export { type QueryClient, withoutNamedStatements } from './unnamed-statements.ts';

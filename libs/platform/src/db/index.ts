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
} from './connect.ts';
export { newId } from './ids.ts';
export { ensureDatabaseExists, type MigrationReport, migrateDatabase } from './migrate.ts';
export { type DatabaseState, requestScopedEntityManager } from './request-context.ts';

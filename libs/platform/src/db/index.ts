export { connectDatabase, type DatabaseOptions, type MikroORM, ormOptions, type RetryOptions } from './connect.ts';
export { newId } from './ids.ts';
export { ensureDatabaseExists, type MigrationReport, migrateDatabase } from './migrate.ts';
export { type DatabaseState, requestScopedEntityManager } from './request-context.ts';

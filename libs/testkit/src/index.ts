export {
  assertSchemaMatchesSpec,
  type ColumnShape,
  diffSchemas,
  parseSpec,
  readSchema,
  type SchemaShape,
  type TableShape,
} from './database-spec.ts';
export { cloneDatabase, createTemplate, dropDatabase, type TestDatabase, uniqueName } from './databases.ts';
export { provisionEvents, publishRaw, readStream, type StoredMessage } from './events.ts';
export { type MigrationStep, setUpIntegrationProject } from './global-setup.ts';
export {
  type HttpClient,
  type HttpClientOptions,
  httpClient,
  type RequestOptions,
  type ResponseCheck,
  type TestResponse,
} from './http.ts';
export { type Infrastructure, startInfrastructure } from './infrastructure.ts';
export { createdAtOf, removeLeftovers, removeStreams } from './leftovers.ts';
export { type NatsServerOptions, startNatsServer, type TestNatsServer } from './nats-server.ts';
export { ContractViolationError, openApiContract } from './openapi.ts';
export { type PostgresStopMode, startPostgresCluster, type TestPostgresCluster } from './postgres-cluster.ts';
export type {} from './provided.ts';
export { waitFor } from './wait-for.ts';

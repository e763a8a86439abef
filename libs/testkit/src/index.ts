export { entityMismatches, expectSchemaToMatchSpec } from './database-spec.ts';
export { cloneDatabase, query, type TestDatabase, uniqueName } from './databases.ts';
export { provisionEvents, publishRaw, readStream, type StoredMessage } from './events.ts';
export { setUpIntegrationProject } from './global-setup.ts';
export { type HttpClient, httpClient, type TestResponse } from './http.ts';
export { removeStreams } from './leftovers.ts';
export { startNatsServer, type TestNatsServer } from './nats-server.ts';
export { ContractViolationError, openApiContract } from './openapi.ts';
export { startPostgresCluster, type TestPostgresCluster } from './postgres-cluster.ts';
export { runScript } from './processes.ts';
export {
  type Accounts,
  accountsOn,
  capturedLogger,
  migrationOf,
  startTestService,
  type TestNats,
  type TestService,
  type TestUser,
  type TokenResponse,
  testLogger,
} from './services.ts';

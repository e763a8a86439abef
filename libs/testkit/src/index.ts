// The API types the stories name (the services' tests reach @todo/client through testkit).
export type { Todo, TodoCreate, TodoListQuery, TodoPatch, TokenResponse } from '@todo/client';
export { entityMismatches, expectSchemaToMatchSpec } from './database-spec.ts';
export { cloneDatabase, query, type TestDatabase, uniqueName, withClient } from './databases.ts';
export { provisionEvents, publishRaw, readStream, type StoredMessage } from './events.ts';
export { setUpIntegrationProject } from './global-setup.ts';
export { bearer, dataOf, type HttpClient, httpClient, type TestResponse } from './http.ts';
export { removeStreams } from './leftovers.ts';
export { metric } from './metrics.ts';
export { startNatsServer, type TestNatsServer } from './nats-server.ts';
export { ContractViolationError, openApiContract } from './openapi.ts';
export { startPgBouncer, type TestPgBouncer } from './pgbouncer.ts';
export { startPostgresCluster, type TestPostgresCluster } from './postgres-cluster.ts';
export { type RunningScript, runScript, startScript } from './processes.ts';
export {
  type Accounts,
  accountsOn,
  type CapturedLogs,
  capturedLogger,
  migrationOf,
  ormOn,
  startTestService,
  type TestNats,
  type TestService,
  type TestUser,
  testLogger,
} from './services.ts';
export { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './smtp-server.ts';

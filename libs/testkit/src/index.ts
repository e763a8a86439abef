export { cloneDatabase, createTemplate, dropDatabase, type TestDatabase, uniqueName } from './databases.ts';
export { type MigrationStep, setUpIntegrationProject } from './global-setup.ts';
export { type HttpClient, httpClient, type RequestOptions, type TestResponse } from './http.ts';
export { type Infrastructure, startInfrastructure } from './infrastructure.ts';
export type {} from './provided.ts';
export { waitFor } from './wait-for.ts';

export {
  defineService,
  type ServiceBuilder,
  type ServiceConfig,
  type ServiceDefinition,
  type ServiceFoundation,
  type ServiceParts,
} from './definition.ts';
export { runCommand, runDatabaseCommand, runService, runSetup } from './main.ts';
export { databaseOptions, type RunningService, startService } from './start-service.ts';

import { authService } from '@todo/auth-service/definition';
import { migrationOf, setUpIntegrationProject } from '@todo/testkit';
import type { TestProject } from 'vitest/node';
import { todoService } from '../../src/definition.ts';

// The todo tests run the real auth service beside the todo service, so the template holds both schemas.
export default (project: TestProject) =>
  setUpIntegrationProject(project, [migrationOf(authService), migrationOf(todoService)]);

import { migrateAuthSchema } from '@todo/auth-service/testing';
import { setUpIntegrationProject } from '@todo/testkit';
import type { TestProject } from 'vitest/node';
import { migrateTodoSchema } from './stack.ts';

// The todo tests run the real auth service beside the todo service, so the template holds both schemas.
export default (project: TestProject) => setUpIntegrationProject(project, [migrateAuthSchema, migrateTodoSchema]);

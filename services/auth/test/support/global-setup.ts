import { setUpIntegrationProject } from '@todo/testkit';
import type { TestProject } from 'vitest/node';
import { migrateAuthSchema } from './harness.ts';

export default (project: TestProject) => setUpIntegrationProject(project, [migrateAuthSchema]);

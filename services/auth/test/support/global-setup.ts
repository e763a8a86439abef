import { migrationOf, setUpIntegrationProject } from '@todo/testkit';
import type { TestProject } from 'vitest/node';
import { authService } from '../../src/definition.ts';

export default (project: TestProject) => setUpIntegrationProject(project, [migrationOf(authService)]);

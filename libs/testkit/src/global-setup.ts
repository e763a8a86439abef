/**
 * The body of every integration project's vitest global setup: infrastructure up, one template
 * database migrated with the given migration steps, both handed to the test files; all undone at the end.
 */
import type { TestProject } from 'vitest/node';
import './provided.ts';
import { createTemplate, dropDatabase } from './databases.ts';
import { startInfrastructure } from './infrastructure.ts';
import { removeLeftovers } from './leftovers.ts';

export type MigrationStep = (databaseUrl: string) => Promise<void>;

export async function setUpIntegrationProject(
  project: TestProject,
  migrations: MigrationStep[],
): Promise<() => Promise<void>> {
  const infrastructure = await startInfrastructure();
  await removeLeftovers(infrastructure.databaseUrl, infrastructure.natsUrl);
  const template = await createTemplate(infrastructure.databaseUrl, async (url) => {
    for (const migrate of migrations) await migrate(url);
  });
  project.provide('databaseServerUrl', infrastructure.databaseUrl);
  project.provide('databaseTemplate', template);
  project.provide('natsUrl', infrastructure.natsUrl);
  return async () => {
    await dropDatabase(infrastructure.databaseUrl, template);
    await infrastructure.stop();
  };
}

import { defineProject } from 'vitest/config';

/** Checks of the deployment files (manifests, compose, image, configuration): no cluster, engine or database. */
export default defineProject({
  test: { name: 'deploy', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});

/** One vitest run over every workspace's project; each project keeps its own config next to its code. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: ['libs/*/vitest.config.ts', 'services/*/vitest.config.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report is what CI counts ("N passed, M failed").
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
  },
});

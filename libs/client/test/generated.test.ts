import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { apis, generatedFileOf, renderTypes } from '../scripts/generate.ts';

describe('the generated client types', () => {
  it.each(apis)('for the %s API are what the spec says today', async (api) => {
    const committed = await readFile(generatedFileOf(api), 'utf8').catch(() => '(missing)');
    const current = await renderTypes(api);
    expect(
      committed === current,
      `libs/client/src/generated/${api}.ts is out of date with specs/api/${api}.openapi.yaml: run \`npm run client:generate\``,
    ).toBe(true);
  });
});

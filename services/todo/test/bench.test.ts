import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * `npm run bench` is a script, not a test, and nothing else runs it: this story makes sure it still starts the
 * stack, seeds it, measures and reports, so that a change to the services (a setting they now require, say)
 * cannot break it unnoticed. It asserts that the run works, never how fast: speed is the bench's to report.
 */
describe('the benchmark', () => {
  it('starts a stack of its own, seeds it, measures a scenario and writes its report', {
    timeout: 180_000,
  }, async () => {
    const results = mkdtempSync(join(tmpdir(), 'bench-'));
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['bench/run.ts', '--scenario', 'get', '--duration', '1', '--warmup', '0', '--no-floor', '--results', results],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH, DATABASE_URL: inject('databaseServerUrl'), NATS_URL: inject('natsUrl') },
          timeout: 170_000,
        },
      );
      expect(stdout).toMatch(/\| get +\| service \|/);
      const report = JSON.parse(readFileSync(join(results, 'latest.json'), 'utf8'));
      expect(report.scenarios.map((s: { name: string }) => s.name)).toEqual(['get']);
      expect(report.checks).toContainEqual(expect.objectContaining({ target: 'zero errors', ok: true }));
    } finally {
      rmSync(results, { recursive: true, force: true });
    }
  });
});

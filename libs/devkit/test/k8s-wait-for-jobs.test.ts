import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { k8sDir } from './manifests.ts';

/**
 * k8s/wait-for-jobs.sh against a stand-in `kubectl` on the PATH that answers from files: `<job>.conditions`
 * (the Job's true conditions, as the jsonpath prints them) and `<job>.waiting` (its pods' waiting reasons).
 * Every call is logged, so a story can say what the script asked.
 */
const fakeKubectl = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
job_of() { for a in "$@"; do case "$a" in batch.kubernetes.io/job-name=*) echo "\${a#*=}";; esac; done; }
case "$*" in
  *"get jobs -l app.kubernetes.io/component=migration"*) cat "$FAKE_DIR/jobs" ;;
  *"get job "*) for a in "$@"; do case "$a" in *-migrate) cat "$FAKE_DIR/$a.conditions";; esac; done ;;
  *"get pods"*) cat "$FAKE_DIR/$(job_of "$@").waiting" 2>/dev/null || true ;;
  *" logs "*) echo "logs of $(job_of "$@"): migration Migration20261201000000_outbox_trace_context failed: lock timeout" ;;
  *"get events"*) echo "events of the job" ;;
  *"describe pods"*) echo "pod description of $(job_of "$@")" ;;
  *) echo "unexpected kubectl $*" >&2; exit 2 ;;
esac
`;

let dir = '';

function cluster(files: Record<string, string>) {
  dir = mkdtempSync(join(tmpdir(), 'wait-for-jobs-'));
  writeFileSync(join(dir, 'kubectl'), fakeKubectl);
  chmodSync(join(dir, 'kubectl'), 0o755);
  writeFileSync(join(dir, 'calls'), '');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
}

async function waitForJobs(): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('sh', [join(k8sDir, 'wait-for-jobs.sh'), 'todo-platform'], {
      env: { PATH: `${dir}:${process.env.PATH}`, FAKE_DIR: dir },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('waiting for the migration Jobs after an apply (k8s/wait-for-jobs.sh)', () => {
  it('succeeds once every Job has completed', async () => {
    cluster({
      jobs: 'auth-migrate todo-migrate',
      'auth-migrate.conditions': 'SuccessCriteriaMet Complete ',
      'todo-migrate.conditions': 'SuccessCriteriaMet Complete ',
    });
    const result = await waitForJobs();
    expect(result).toMatchObject({ code: 0, stdout: 'job/auth-migrate complete\njob/todo-migrate complete\n' });
  });

  it('ends at once when a Job has failed, with that Job’s logs and events, and exit status 1', async () => {
    cluster({
      jobs: 'auth-migrate todo-migrate',
      'auth-migrate.conditions': '',
      'todo-migrate.conditions': 'FailureTarget Failed ',
    });
    const started = Date.now();
    const result = await waitForJobs();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('job/todo-migrate failed:');
    expect(result.stderr).toContain(
      'logs of todo-migrate: migration Migration20261201000000_outbox_trace_context failed',
    );
    expect(result.stderr).toContain('events of the job');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('ends at once when a Job’s pod cannot start (a missing Secret, an image it cannot pull), instead of waiting for the deadline', async () => {
    cluster({
      jobs: 'auth-migrate todo-migrate',
      'auth-migrate.conditions': '',
      'auth-migrate.waiting': 'CreateContainerConfigError ',
      'todo-migrate.conditions': '',
    });
    const result = await waitForJobs();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('job/auth-migrate cannot start its pod (CreateContainerConfigError)');
    expect(result.stderr).toContain('pod description of auth-migrate');
  });

  it('does not call an empty namespace a success', async () => {
    cluster({ jobs: '' });
    const result = await waitForJobs();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no migration Jobs in namespace todo-platform');
  });

  it('keeps polling a Job that is still running, then reports it', async () => {
    cluster({ jobs: 'auth-migrate', 'auth-migrate.conditions': '' });
    // The Job completes while the script sleeps between polls.
    setTimeout(() => writeFileSync(join(dir, 'auth-migrate.conditions'), 'SuccessCriteriaMet Complete '), 1_000);
    const result = await waitForJobs();
    expect(result).toMatchObject({ code: 0, stdout: 'job/auth-migrate complete\n' });
  });
});

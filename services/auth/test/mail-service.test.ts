/** The auth service runs a mail relay: its jobs are handled, and its backlog shows on /readyz and /metrics. */
import { randomUUID } from 'node:crypto';
import { metric, startSmtpServer, type TestSmtpServer } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAuth } from './support/harness.ts';

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp?.close());

const address = (domain: string) => `user-${randomUUID()}@${domain}`;

describe('the auth service relays its mail jobs', () => {
  it('drops a reset asked for an address without an account, and shows the mail backlog on /readyz and /metrics', async () => {
    const auth = await startAuth({ env: { SMTP_URL: smtp.url } });
    try {
      const email = address('no-account.example');
      await auth.sql(
        `insert into auth.mail_jobs (id, kind, email, created_at, next_attempt_at)
         values (gen_random_uuid(), 'reset_password', $1, now(), now())`,
        [email],
      );
      // Counted just after the job's transaction committed.
      const dropped = async () =>
        metric((await auth.ops.get('/metrics')).text, 'mail_sent_total', {
          kind: 'reset_password',
          outcome: 'dropped',
        });
      await vi.waitFor(async () => expect(await dropped()).toBe(1), { timeout: 15_000, interval: 50 });

      const [job] = await auth.sql('select sent_at from auth.mail_jobs where email = $1', [email]);
      expect(job?.sent_at).not.toBeNull();
      expect(smtp.mailsTo(email)).toEqual([]);
      const ready = await auth.ops.get<{ details: Record<string, string> }>('/readyz');
      expect(ready.body.details.mail).toBe('ok');
      const metrics = (await auth.ops.get('/metrics')).text;
      expect(metrics).toMatch(/^mail_jobs_pending(\{[^}]*\})? 0$/m);
      expect(metrics).toMatch(/^mail_oldest_pending_age_seconds(\{[^}]*\})? 0$/m);
    } finally {
      await auth.stop();
    }
  });
});

/**
 * Stories of the mail relay on real PostgreSQL and a real SMTP server: a job written in a transaction becomes
 * exactly one mail, whatever the SMTP server and the other replicas do. The mails here are composed by a
 * test-local function (the account-recovery flows have stories of their own).
 */
import { randomUUID } from 'node:crypto';
import {
  type CapturedLogs,
  capturedLogger,
  cloneDatabase,
  metric,
  ormOn,
  startSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
} from '@todo/testkit';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { authService } from '../src/definition.ts';
import { type ComposeMail, enqueueMail, type MailKind } from '../src/mail/mail-job.ts';
import { MailRelay, type MailRelayOptions } from '../src/mail/mail-relay.ts';
import { renderMail } from '../src/mail/templates.ts';
import { createMailTransport } from '../src/mail/transport.ts';

type Orm = Awaited<ReturnType<typeof ormOn>>;

let database: TestDatabase;
let orm: Orm;
let smtp: TestSmtpServer;
const running: MailRelay[] = [];

beforeAll(async () => {
  database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  orm = await ormOn(authService, database.url);
  smtp = await startSmtpServer();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((relay) => relay.stop()));
  await smtp.start().catch(() => undefined); // a story that took SMTP down gives it back
});
afterAll(async () => {
  await orm?.close();
  await smtp?.close();
  await database?.drop();
});

/** The link a user would click, as the account-recovery flows make it (the token here is made up). */
const linkFor = (jobId: string) => `http://app.test/verify-email#token=${jobId}.secret`;

/** Composes every job into the real templates' mail, as the recovery flows do, without tokens. */
const composeAll: ComposeMail = async (_tx, job) =>
  renderMail(job.kind, { to: job.email, link: linkFor(job.id), expiresInMinutes: 30 });

interface TestRelay {
  relay: MailRelay;
  logs: CapturedLogs;
  /** The relay's `mail_sent_total` for an outcome. */
  sent(outcome: 'sent' | 'dropped' | 'failed', kind?: MailKind): Promise<number>;
}

function startRelay(
  options: Partial<MailRelayOptions> & { smtpUrl?: string | null; revealLinks?: boolean } = {},
): TestRelay {
  const logs = capturedLogger('auth', 'debug');
  const registry = new Registry();
  const { smtpUrl = smtp.url, revealLinks = false, ...rest } = options;
  const relay = new MailRelay({
    orm,
    transport: createMailTransport(smtpUrl ?? undefined, logs.logger, { revealLinks }),
    compose: composeAll,
    from: 'todo-platform <no-reply@todo.test>',
    logger: logs.logger,
    registry,
    pollIntervalMs: 20,
    retryBaseMs: 50,
    maxBackoffMs: 200,
    ...rest,
  });
  relay.start();
  running.push(relay);
  return {
    relay,
    logs,
    sent: async (outcome, kind = 'verify_email') =>
      metric(await registry.metrics(), 'mail_sent_total', { kind, outcome }),
  };
}

/** Writes a job as a use case does, in its own transaction; its id. */
async function enqueue(kind: MailKind, email: string): Promise<string> {
  await orm.em.fork().transactional((tx) => enqueueMail(tx, kind, email));
  return (await job(email)).id;
}

interface JobState {
  id: string;
  attempts: number;
  sent_at: Date | null;
  last_error: string | null;
}
async function job(email: string): Promise<JobState> {
  const [row] = await orm.em
    .fork()
    .execute<JobState[]>('select id, attempts, sent_at, last_error from auth.mail_jobs where email = ?', [email]);
  if (!row) throw new Error(`no mail job for ${email}`);
  return row;
}

const waitUntilDone = (email: string) =>
  vi.waitFor(async () => expect((await job(email)).sent_at).not.toBeNull(), { timeout: 15_000, interval: 50 });

const address = (domain = 'example.com') => `user-${randomUUID()}@${domain}`;

describe('a mail asked for in a transaction reaches the user exactly once', () => {
  it('sends a committed job at once when notified, marks it sent, with a Message-ID stable across attempts', async () => {
    // Polling only every minute: the mail arriving within seconds is the notification's doing.
    const { relay, sent } = startRelay({ pollIntervalMs: 60_000 });
    const email = address();

    const id = await enqueue('verify_email', email);
    relay.notify();

    const mail = await smtp.waitForMail(email);
    expect(mail.messageId).toBe(`<${id}@todo-platform>`);
    expect(mail.from).toBe('no-reply@todo.test');
    expect(mail.subject).toBe('Confirm your email address');
    expect(mail.text).toContain(linkFor(id));
    expect(mail.html).toContain(`href="${linkFor(id)}"`);
    await waitUntilDone(email);
    await relay.stop();
    expect(smtp.mailsTo(email)).toHaveLength(1);
    expect(await job(email)).toMatchObject({ attempts: 0, last_error: null });
    expect(await sent('sent')).toBe(1);
  });

  it('keeps the job while SMTP is down, retrying and saying so, and sends it once SMTP is back', async () => {
    await smtp.stop();
    const { logs, sent, relay } = startRelay();
    const email = address('down.example');
    const localPart = email.split('@')[0] ?? email;

    const id = await enqueue('reset_password', email);
    await vi.waitFor(async () => expect((await job(email)).attempts).toBeGreaterThanOrEqual(3), {
      timeout: 15_000,
      interval: 50,
    });

    const waiting = await job(email);
    expect(waiting.sent_at).toBeNull();
    expect(waiting.last_error).toMatch(/ECONNREFUSED/);
    const warning = logs.lines.find(
      (line) => line.msg === 'could not send a mail; will retry' && line.level === 'warn',
    );
    expect(warning).toMatchObject({ jobId: id, kind: 'reset_password', attempt: 1, domain: 'down.example' });
    // The address is personal data: no line and no stored error holds its local part.
    expect(logs.raw.join('\n')).not.toContain(localPart);
    expect(waiting.last_error).not.toContain(localPart);
    expect(await relay.readiness()).toBe('ok'); // waiting less than a minute is in flight, not a problem yet

    await smtp.start();
    const mail = await smtp.waitForMail(email);
    expect(mail.messageId).toBe(`<${id}@todo-platform>`);
    await waitUntilDone(email);
    await relay.stop();
    expect(smtp.mailsTo(email)).toHaveLength(1);
    // Read once the relay stopped: it counts an attempt just after the transaction that the waits above watch.
    expect(await sent('failed', 'reset_password')).toBeGreaterThanOrEqual(3);
    expect(await sent('sent', 'reset_password')).toBe(1);
    expect(logs.lines.some((line) => line.msg === 'mail relay sends again')).toBe(true);
  });

  it('says on /readyz how long mails have waited and why, without making the service unready', async () => {
    await smtp.stop();
    const { relay } = startRelay();
    const email = address('stale.example');
    await enqueue('verify_email', email);
    // A job asked for two minutes ago, as after an outage.
    await orm.em
      .fork()
      .execute("update auth.mail_jobs set created_at = now() - interval '2 minutes' where email = ?", [email]);

    await vi.waitFor(
      async () =>
        expect(await relay.readiness()).toMatch(
          /^1 mails waiting to be sent, the oldest for 1\d\d s \(last error: .*ECONNREFUSED/,
        ),
      { timeout: 15_000, interval: 50 },
    );
    expect(await relay.backlog()).toMatchObject({ pending: 1 });
    await smtp.start();
    await waitUntilDone(email);
    expect(await relay.readiness()).toBe('ok');
  });

  it('sends each job once when two replicas relay from one database at the same time', async () => {
    const jobs = 6;
    const composedBy = new Map<string, string[]>();
    // Each replica's first compose waits until the other replica composes too: both hold a job at once, which
    // only `skip locked` allows (a plain row lock would make one wait for the other, which waits for it).
    let release: () => void = () => undefined;
    const bothComposing = new Promise<void>((resolve) => {
      release = resolve;
    });
    const composing = new Set<string>();
    const composeAs =
      (replica: string): ComposeMail =>
      async (tx, job) => {
        composedBy.set(job.id, [...(composedBy.get(job.id) ?? []), replica]);
        composing.add(replica);
        if (composing.size === 2) release();
        await Promise.race([
          bothComposing,
          new Promise((_, reject) => setTimeout(() => reject(new Error('the other replica never took a job')), 5_000)),
        ]);
        return composeAll(tx, job);
      };
    const emails = Array.from({ length: jobs }, () => address('replicas.example'));
    for (const email of emails) await enqueue('verify_email', email);

    const a = startRelay({ compose: composeAs('a') });
    const b = startRelay({ compose: composeAs('b') });
    await Promise.all(emails.map(waitUntilDone));
    await Promise.all([a.relay.stop(), b.relay.stop()]);

    for (const email of emails) expect(smtp.mailsTo(email), email).toHaveLength(1);
    expect([...composedBy.values()].every((replicas) => replicas.length === 1)).toBe(true);
    expect(new Set([...composedBy.values()].flat())).toEqual(new Set(['a', 'b']));
    expect((await a.sent('failed')) + (await b.sent('failed'))).toBe(0);
    expect((await a.sent('sent')) + (await b.sent('sent'))).toBe(jobs);
  });

  it('drops a job its compose function has no mail for, sending nothing', async () => {
    const nobody = address('nobody.example');
    const somebody = address();
    const { sent, relay } = startRelay({
      compose: async (tx, job) => (job.email === nobody ? undefined : composeAll(tx, job)),
    });

    await enqueue('reset_password', nobody);
    await enqueue('reset_password', somebody);

    // Jobs go out in the order they became due: once the second mail is there, the first job was handled.
    await smtp.waitForMail(somebody);
    await waitUntilDone(nobody);
    await relay.stop();
    expect(smtp.mailsTo(nobody)).toEqual([]);
    expect(await sent('dropped', 'reset_password')).toBe(1);
    expect(await sent('sent', 'reset_password')).toBe(1);
  });

  it('writes the mail to the log instead, when no SMTP server is configured: links and all in development', async () => {
    const { logs } = startRelay({ smtpUrl: null, revealLinks: true });
    const email = address('logged.example');
    const before = smtp.messages.length;

    const id = await enqueue('verify_email', email);
    await waitUntilDone(email);

    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/SMTP_URL is not set/) }),
    );
    const logged = logs.lines.find((line) => line.msg === 'mail logged, not sent (no SMTP_URL)');
    expect(logged?.mail).toMatchObject({
      to: email,
      subject: 'Confirm your email address',
      text: expect.stringContaining(linkFor(id)),
    });
    expect(smtp.messages.length).toBe(before);
  });

  it('anywhere but development, a logged mail has its link token redacted', async () => {
    const { logs } = startRelay({ smtpUrl: null });
    const email = address('redacted.example');

    const id = await enqueue('verify_email', email);
    await waitUntilDone(email);

    const logged = logs.raw.find((line) => line.includes('mail logged, not sent'));
    expect(logged).toContain('#token=[redacted]');
    expect(logs.raw.filter((line) => line.includes(`${id}.secret`))).toEqual([]);
  });
});

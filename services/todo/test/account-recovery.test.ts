/**
 * Getting back into an account and proving an address, as a user does it: the mail arrives at a real SMTP
 * server, the link is read out of the mail, and the page it opens calls the API with the token from the link.
 * The todo service beside the auth service shows that a reset ends every session everywhere.
 */
import { authEventsStream } from '@todo/platform/events';
import { bearer, type ReceivedMail, readStream, startSmtpServer, type TestSmtpServer } from '@todo/testkit';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { namespaceOf } from './support/events.ts';
import { type Stack, startAuthReplica, startStack } from './support/stack.ts';

const APP = 'https://app.example.test';
const PROPAGATION_DEADLINE_MS = 2_000;

let smtp: TestSmtpServer;
let stack: Stack;
/** Every token a link carried in this file: none may show up in a log line. */
const tokensSeen: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  stack = await startStack({
    captureLogs: true,
    authEnv: {
      SMTP_URL: smtp.url,
      PUBLIC_APP_URL: APP,
      // The stories ask for many mails from 127.0.0.1 and for one address; the limits have a story of their own.
      MAIL_MAX_PER_EMAIL_PER_HOUR: '1000',
      MAIL_MAX_PER_CLIENT_PER_HOUR: '100000',
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

/** The `page` link of a mail, and the token in its fragment. */
function linkIn(mail: ReceivedMail, page: '/verify-email' | '/reset-password'): { link: string; token: string } {
  const match = new RegExp(`${APP}${page}#token=([A-Za-z0-9._-]+)`).exec(mail.text);
  if (!match?.[1]) throw new Error(`no ${page} link in the mail "${mail.subject}":\n${mail.text}`);
  expect(mail.html).toContain(`${APP}${page}#token=${match[1]}`);
  tokensSeen.push(match[1]);
  return { link: match[0], token: match[1] };
}

/** Waits for the `n`-th mail to `to` whose link opens `page`. */
async function mailWithLink(to: string, page: '/verify-email' | '/reset-password', n = 1): Promise<ReceivedMail> {
  let found: ReceivedMail | undefined;
  await vi.waitFor(
    () => {
      const mails = smtp.mailsTo(to).filter((mail) => mail.text.includes(`${APP}${page}#token=`));
      expect(mails.length).toBeGreaterThanOrEqual(n);
      found = mails[n - 1];
    },
    { timeout: 15_000, message: `mail number ${n} with a ${page} link for ${to}` },
  );
  return found as ReceivedMail;
}

/** Another auth replica of the stack's (same keys, database, SMTP server) with some settings of its own. */
const replicaWith = (env: Record<string, string>) =>
  startAuthReplica(stack, {
    AUTH_KEK: stack.auth.config.AUTH_KEK.toString('base64'),
    SMTP_URL: smtp.url,
    PUBLIC_APP_URL: APP,
    // The other stories of this file asked for many mails from this client already.
    MAIL_MAX_PER_CLIENT_PER_HOUR: '100000',
    ...env,
  });

const me = async (accessToken: string) =>
  (await stack.auth.client.GET('/auth/me', { headers: bearer(accessToken) })).data;
const requestReset = (email: string) => stack.auth.client.POST('/auth/password-reset', { body: { email } });
const confirmReset = (token: string, newPassword: string) =>
  stack.auth.client.POST('/auth/password-reset/confirm', { body: { token, newPassword } });
const verify = (token: string) => stack.auth.client.POST('/auth/verify-email', { body: { token } });
const loginStatus = async (email: string, password: string) =>
  (await stack.auth.client.POST('/auth/login', { body: { email, password } })).response.status;

describe('a new user proves their address with the link mailed at registration', () => {
  it('the link verifies the address: /auth/me and the next access token say so; the same link again changes nothing', async () => {
    const user = await stack.auth.newUser();
    expect(await me(user.accessToken)).toMatchObject({ email: user.email, emailVerified: false });
    expect(decodeJwt(user.accessToken).email_verified).toBe(false);

    const mail = await mailWithLink(user.email, '/verify-email');
    expect(mail.subject).toMatch(/verify|confirm/i);
    const { token } = linkIn(mail, '/verify-email');

    expect((await verify(token)).response.status).toBe(204);
    expect(await me(user.accessToken)).toMatchObject({ emailVerified: true });
    const next = await stack.auth.logIn(user.email, user.password);
    expect(decodeJwt(next.access_token).email_verified).toBe(true);

    // Other services learn of it: one auth.user.email_verified about the user.
    await vi.waitFor(
      async () => {
        const messages = await readStream(inject('natsUrl'), authEventsStream(namespaceOf(stack)).name);
        const verified = messages
          .map((m) => m.body as { type: string; subject: string; data: { userId: string } })
          .filter((e) => e.type === 'auth.user.email_verified' && e.subject === user.id);
        expect(verified.map((e) => e.data.userId)).toEqual([user.id]);
      },
      { timeout: 10_000, message: 'auth.user.email_verified to be published' },
    );

    const again = await verify(token);
    expect(again.response.status).toBe(400);
    expect(again.error).toMatchObject({ status: 400, type: expect.stringContaining('invalid-one-time-token') });
    expect(await me(next.access_token)).toMatchObject({ emailVerified: true });
  });

  it('a resent link replaces the first one', async () => {
    const user = await stack.auth.newUser();
    const first = linkIn(await mailWithLink(user.email, '/verify-email'), '/verify-email');
    const resent = await stack.auth.client.POST('/auth/verify-email/resend', { headers: bearer(user.accessToken) });
    expect(resent.response.status).toBe(202);
    const second = linkIn(await mailWithLink(user.email, '/verify-email', 2), '/verify-email');

    expect((await verify(first.token)).response.status).toBe(400);
    expect(await me(user.accessToken)).toMatchObject({ emailVerified: false });
    expect((await verify(second.token)).response.status).toBe(204);
  });
});

describe('a user who forgot their password gets back in with a reset link, and everyone else is out', () => {
  it('request, mail, new password: old sessions are refused by the todo service within 2 s, only the new password works, the link works once', async () => {
    const user = await stack.auth.newUser();
    const laptop = await stack.auth.logIn(user.email, user.password);
    expect((await stack.client.GET('/todos', { headers: bearer(laptop.access_token) })).response.status).toBe(200);

    const asked = await requestReset(user.email);
    expect(asked.response.status).toBe(202);
    const { token } = linkIn(await mailWithLink(user.email, '/reset-password'), '/reset-password');

    const newPassword = 'a brand new passphrase, long enough';
    expect((await confirmReset(token, newPassword)).response.status).toBe(204);

    for (const session of [user.accessToken, laptop.access_token]) {
      await vi.waitFor(
        async () => expect((await stack.client.GET('/todos', { headers: bearer(session) })).response.status).toBe(401),
        {
          timeout: PROPAGATION_DEADLINE_MS,
          message: 'a session from before the reset to be refused by the todo service',
        },
      );
    }
    const refreshed = await stack.auth.client.POST('/auth/refresh', { body: { refresh_token: laptop.refresh_token } });
    expect(refreshed.response.status).toBe(401);
    expect(await loginStatus(user.email, user.password)).toBe(401);
    expect(await loginStatus(user.email, newPassword)).toBe(200);

    const again = await confirmReset(token, 'yet another passphrase, long too');
    expect(again.response.status).toBe(400);
    expect(await loginStatus(user.email, newPassword)).toBe(200);
  });

  it('an address without an account gets the same 202 body, no mail, and no slower or faster an answer', async () => {
    const known = await stack.auth.newUser();
    const unknown = `nobody-${Date.now()}@example.com`;
    const timings: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    const bodies = new Set<string>();
    for (let i = 0; i < 30; i++) {
      for (const [kind, email] of [
        ['known', known.email],
        ['unknown', unknown],
      ] as const) {
        const started = performance.now();
        const answer = await requestReset(email);
        timings[kind].push(performance.now() - started);
        expect(answer.response.status).toBe(202);
        bodies.add(JSON.stringify(answer.data));
      }
    }
    expect(bodies.size).toBe(1);

    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const [a, b] = [median(timings.known), median(timings.unknown)];
    // The same work either way (the limits, one mail job): any difference is noise, far below what a lookup
    // plus a token (let alone a hash) would add.
    expect(Math.abs(a - b), `medians: known ${a.toFixed(1)} ms, unknown ${b.toFixed(1)} ms`).toBeLessThanOrEqual(
      Math.max(5, 0.5 * Math.max(a, b)),
    );

    await vi.waitFor(
      async () => {
        const [row] = await stack.auth.sql('select count(*)::int as n from auth.mail_jobs where sent_at is null');
        expect(row?.n).toBe(0);
      },
      { timeout: 30_000, message: 'every mail job to be handled' },
    );
    expect(smtp.mailsTo(unknown)).toEqual([]);
  });

  it('an expired token, a token for the other purpose, and a token with one character changed are each refused, and nothing changes', async () => {
    const user = await stack.auth.newUser();
    const verification = linkIn(await mailWithLink(user.email, '/verify-email'), '/verify-email');
    await requestReset(user.email);
    const reset = linkIn(await mailWithLink(user.email, '/reset-password'), '/reset-password');
    const newPassword = 'a passphrase that never gets set';

    const refused = async (answer: Promise<{ response: Response; error?: unknown }>) => {
      const { response, error } = await answer;
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(error).toMatchObject({ type: expect.stringContaining('invalid-one-time-token') });
    };
    await refused(confirmReset(verification.token, newPassword));
    await refused(verify(reset.token));
    // One character of the secret changed, in the middle, and at the end to another spelling of the same bytes
    // (base64url's last character of 32 bytes has two bits to spare): neither is the token.
    const middle = reset.token.length - 20;
    const swap = (c: string | undefined) => (c === 'A' ? 'B' : 'A');
    await refused(
      confirmReset(
        `${reset.token.slice(0, middle)}${swap(reset.token[middle])}${reset.token.slice(middle + 1)}`,
        newPassword,
      ),
    );
    // The canonical last character stands for 4 bits and two zero bits (A, E, I, …); the next one in the alphabet
    // (B, F, J, …) sets one of the spare bits: the same bytes, spelt differently.
    const respelled = String.fromCharCode((reset.token.at(-1) ?? 'A').charCodeAt(0) + 1);
    await refused(confirmReset(`${reset.token.slice(0, -1)}${respelled}`, newPassword));

    await stack.auth.sql(
      `update auth.one_time_tokens set created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'
        where user_id = $1 and purpose = 'reset_password'`,
      [user.id],
    );
    await refused(confirmReset(reset.token, newPassword));

    expect(await loginStatus(user.email, user.password)).toBe(200);
    expect(await loginStatus(user.email, newPassword)).toBe(401);
    expect(await me(user.accessToken)).toMatchObject({ emailVerified: false });
  });

  it('with SMTP down the request still succeeds, and the mail goes out once SMTP is back, exactly once', async () => {
    const user = await stack.auth.newUser();
    await mailWithLink(user.email, '/verify-email');
    await smtp.stop();
    try {
      expect((await requestReset(user.email)).response.status).toBe(202);
      await vi.waitFor(
        async () => {
          const [row] = await stack.auth.sql(
            `select attempts from auth.mail_jobs where email = $1 and kind = 'reset_password'`,
            [user.email],
          );
          expect(Number(row?.attempts)).toBeGreaterThanOrEqual(1);
        },
        { timeout: 15_000, message: 'the relay to fail to reach the SMTP server' },
      );
    } finally {
      await smtp.start();
    }
    const mail = await mailWithLink(user.email, '/reset-password');
    const { token } = linkIn(mail, '/reset-password');
    await vi.waitFor(
      async () => {
        const [row] = await stack.auth.sql(
          `select count(*)::int as n from auth.mail_jobs where email = $1 and sent_at is null`,
          [user.email],
        );
        expect(row?.n).toBe(0);
      },
      { timeout: 15_000, message: 'the job to be marked sent' },
    );
    expect(smtp.mailsTo(user.email).filter((m) => m.text.includes('/reset-password#token='))).toHaveLength(1);
    expect((await confirmReset(token, 'the passphrase after the outage')).response.status).toBe(204);
  });
});

describe('with REQUIRE_VERIFIED_EMAIL, only a verified address may log in', () => {
  it('a login before verification is 403 email-not-verified (invalid_grant over OAuth), and works once the link is followed', async () => {
    const strict = await replicaWith({ REQUIRE_VERIFIED_EMAIL: 'true' });
    try {
      const email = `careful-${Date.now()}@example.com`;
      const password = 'a passphrase to verify first';
      expect((await strict.client.POST('/auth/register', { body: { email, password } })).response.status).toBe(201);

      const refused = await strict.client.POST('/auth/login', { body: { email, password } });
      expect(refused.response.status).toBe(403);
      expect(refused.error).toMatchObject({ type: expect.stringContaining('email-not-verified') });
      const oauth = await fetch(`${strict.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', client_id: 'todo-web', username: email, password }),
      });
      expect(oauth.status).toBe(400);
      expect(await oauth.json()).toMatchObject({ error: 'invalid_grant' });

      const { token } = linkIn(await mailWithLink(email, '/verify-email'), '/verify-email');
      expect((await strict.client.POST('/auth/verify-email', { body: { token } })).response.status).toBe(204);
      expect((await strict.client.POST('/auth/login', { body: { email, password } })).response.status).toBe(200);
    } finally {
      await strict.stop();
    }
  });
});

describe('nobody can use the service to flood a mailbox', () => {
  it('reset requests for one address are limited, with the RateLimit headers, and a refused one sends nothing', async () => {
    const strict = await replicaWith({ MAIL_MAX_PER_EMAIL_PER_HOUR: '2' });
    try {
      const email = `flooded-${Date.now()}@example.com`;
      for (let i = 0; i < 2; i++) {
        const ok = await strict.client.POST('/auth/password-reset', { body: { email } });
        expect(ok.response.status).toBe(202);
        expect(ok.response.headers.get('ratelimit-policy')).toContain('"mail-address";q=2;w=3600');
      }
      const refused = await strict.client.POST('/auth/password-reset', { body: { email } });
      expect(refused.response.status).toBe(429);
      expect(Number(refused.response.headers.get('retry-after'))).toBeGreaterThan(0);
      const [row] = await stack.auth.sql('select count(*)::int as n from auth.mail_jobs where email = $1', [email]);
      expect(row?.n).toBe(2);
    } finally {
      await strict.stop();
    }
  });
});

describe('the tokens stay secret', () => {
  it('no token of a link appears in any log line of either service', () => {
    expect(tokensSeen.length).toBeGreaterThan(3);
    const lines = [...stack.logs.auth.raw, ...stack.logs.todo.raw];
    expect(lines.length).toBeGreaterThan(0);
    for (const token of tokensSeen) {
      const secret = token.split('.')[1] ?? token;
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});

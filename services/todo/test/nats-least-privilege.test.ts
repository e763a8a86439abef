import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { authEventsStream, subjectOf, USER_DELETED } from '@todo/platform/events';
import { bearer, startNatsServer, type TestNatsServer } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { todosOf, userDeleted } from './support/events.ts';
import { type Stack, startStack } from './support/stack.ts';

const SHIPPED_CONFIG = fileURLToPath(new URL('../../../.config/nats/nats-server.conf', import.meta.url));
const PASSWORDS = { admin: 'a1f0c2d9e8', auth: 'a2b7e41c9d', todo: 'a3c5d8e2f1' };

describe('with the shipped NATS configuration, each service can do its job and nothing more', () => {
  let nats: TestNatsServer;
  let stack: Stack;
  beforeAll(async () => {
    nats = await startNatsServer({
      configFile: SHIPPED_CONFIG,
      env: {
        NATS_ADMIN_PASSWORD: PASSWORDS.admin,
        NATS_AUTH_PASSWORD: PASSWORDS.auth,
        NATS_TODO_PASSWORD: PASSWORDS.todo,
      },
    });
    stack = await startStack({
      // The setup step runs as admin; each service connects as its own user.
      nats: { url: nats.url, admin: { user: 'admin', pass: PASSWORDS.admin } },
      // The shipped permissions name the deployed subjects, which have no namespace.
      eventsNamespace: '',
      authEnv: { NATS_USER: 'auth', NATS_PASSWORD: PASSWORDS.auth },
      todoEnv: { NATS_USER: 'todo', NATS_PASSWORD: PASSWORDS.todo },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.close();
  });

  it('refuses an anonymous connection', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it('both services work end to end with their own users: events flow, logouts and deletions propagate', async () => {
    const ann = await stack.auth.newUser();
    const created = await stack.client.POST('/todos', {
      body: { title: 'least privilege' },
      headers: bearer(ann.accessToken),
    });
    expect(created.response.status).toBe(201);
    const phone = await stack.auth.logIn(ann.email, ann.password);
    expect(
      (await stack.auth.client.POST('/auth/logout', { headers: bearer(phone.access_token) })).response.status,
    ).toBe(204);
    await vi.waitFor(
      async () =>
        expect((await stack.client.GET('/todos', { headers: bearer(phone.access_token) })).response.status).toBe(401),
      {
        timeout: 2_000,
        message: 'the logout to reach the todo service',
      },
    );
    const deleted = await stack.auth.client.DELETE('/auth/me', {
      body: { password: ann.password },
      headers: bearer(ann.accessToken),
    });
    expect(deleted.response.status).toBe(204);
    await vi.waitFor(async () => expect(await todosOf(stack, ann.id)).toBe(0), {
      timeout: 2_000,
      message: "the deleted user's todos to go",
    });
    await vi.waitFor(
      async () => {
        const ready = await stack.ops.get<{ details: Record<string, string> }>('/readyz');
        expect(ready.body.details).toMatchObject({ outbox: 'ok', revocations: 'ok' });
      },
      { timeout: 5_000, message: 'the todo service to publish its events as its own user' },
    );
    expect(nats.log()).not.toMatch(/Violation/);
  });

  it("the todo service's user cannot publish auth.user.deleted: the server refuses it and no todo is deleted", async () => {
    const bob = await stack.auth.newUser();
    await stack.client.POST('/todos', { body: { title: 'mine' }, headers: bearer(bob.accessToken) });
    const todoUser: NatsConnection = await connect({
      servers: nats.url,
      user: 'todo',
      pass: PASSWORDS.todo,
      inboxPrefix: '_INBOX_todo',
    });
    try {
      const refusal = (async () => {
        for await (const status of todoUser.status()) {
          if (status.type === 'error') return String(status.error);
        }
        return 'closed';
      })();
      const attempt = jetstream(todoUser, { checkAPI: false, timeout: 1_000 }).publish(
        subjectOf('', USER_DELETED),
        JSON.stringify(userDeleted(bob.id)),
      );
      await expect(attempt).rejects.toThrow();
      expect(await refusal).toMatch(/permissions violation/i);
    } finally {
      await todoUser.close();
    }
    const admin = await connect({ servers: nats.url, user: 'admin', pass: PASSWORDS.admin });
    try {
      const jsm = await jetstreamManager(admin);
      const last = await jsm.streams.getMessage(authEventsStream('').name, {
        last_by_subj: subjectOf('', USER_DELETED),
      });
      // The only auth.user.deleted in the stream is the earlier test's, published by the auth service.
      expect(last).not.toBeNull();
      expect(last?.json<{ data: { userId: string } }>().data.userId).not.toBe(bob.id);
    } finally {
      await admin.close();
    }
    expect(await todosOf(stack, bob.id)).toBe(1);
    expect(nats.log()).toContain('Publish Violation - User "todo", Subject "auth.user.deleted"');
  });
});

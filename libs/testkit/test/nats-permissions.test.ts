/**
 * The NATS authorization we ship, on a real nats-server of this file's own: each service can do what it does
 * in production, and the server refuses everything else. The happy paths also assert that no permission
 * violation was reported, so an allow rule that is too narrow fails here. The same stories run against the
 * configuration file (docker compose) and against the Helm values rendered as the chart renders them
 * (Kubernetes), so the two cannot drift apart.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AckPolicy,
  DeliverPolicy,
  type DeliveryInfo,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type MsgRequest,
  type StreamInfo,
} from '@nats-io/jetstream';
import {
  AuthorizationError,
  connect,
  type NatsConnection,
  nuid,
  PermissionViolationError,
} from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { startNatsServer, type TestNatsServer } from '../src/nats-server.ts';

const shippedConfig = fileURLToPath(new URL('../../../.config/nats/nats-server.conf', import.meta.url));
const helmValues = fileURLToPath(new URL('../../../k8s/nats/values.yaml', import.meta.url));
const DURABLE = 'todo-forget-deleted-users';

type User = 'admin' | 'auth' | 'todo';
// nats-server reads a `$VAR` as a configuration value, not as a raw string: a letter, then hex digits
// (see the configuration file's header).
const password = () => `p${randomBytes(24).toString('hex')}`;
const passwords: Record<User, string> = { admin: password(), auth: password(), todo: password() };

/**
 * Every password the configuration reads (`$NATS_<USER>_PASSWORD`), so that a user added for a new service
 * does not stop this server from starting; the users these stories play get theirs from `passwords`.
 */
async function passwordEnvironment(configFile: string): Promise<Record<string, string>> {
  const names = new Set((await readFile(configFile, 'utf8')).match(/NATS_[A-Z0-9_]+_PASSWORD/g) ?? []);
  const env = Object.fromEntries([...names].map((name) => [name, password()]));
  return {
    ...env,
    NATS_ADMIN_PASSWORD: passwords.admin,
    NATS_AUTH_PASSWORD: passwords.auth,
    NATS_TODO_PASSWORD: passwords.todo,
  };
}

/**
 * The Helm values' `config.merge` as the chart writes it into nats.conf: JSON, with every `"<< X >>"` string
 * unquoted (the chart's `nats.formatConfig`), so that `<< $VAR >>` becomes a variable reference.
 */
async function renderHelmAuthorization(dir: string): Promise<string> {
  const values = parse(await readFile(helmValues, 'utf8')) as { config: { merge: unknown } };
  const file = join(dir, 'helm-merge.conf');
  await writeFile(file, JSON.stringify(values.config.merge, null, 2).replace(/"<<\s+(.*)\s+>>"/g, '$1'));
  return file;
}

const configurations = [
  { name: 'the shipped NATS configuration', configFile: async () => shippedConfig },
  { name: "the Helm chart's NATS authorization", configFile: renderHelmAuthorization },
];

/** The permission violations the server reports on a connection, as `publish <subject>` / `subscription <subject>`. */
function violationsOn(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError) {
        seen.push(`${status.error.operation} ${status.error.subject}`);
      }
    }
  })();
  return seen;
}

describe.each(configurations)('$name', ({ configFile }) => {
  let dir: string;
  let nats: TestNatsServer;
  let adminJsm: JetStreamManager;
  const connections: NatsConnection[] = [];

  /** A connection as one of the configured users, with the inbox prefix its service uses. */
  async function connectAs(user: User): Promise<{ nc: NatsConnection; violations: string[] }> {
    const nc = await connect({
      servers: nats.url,
      user,
      pass: passwords[user],
      reconnect: false,
      ...(user === 'admin' ? {} : { inboxPrefix: `_INBOX_${user}` }),
    });
    connections.push(nc);
    return { nc, violations: violationsOn(nc) };
  }

  const messagesIn = async (stream: string): Promise<StreamInfo['state']> =>
    (await adminJsm.streams.info(stream)).state;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nats-permissions-'));
    const file = await configFile(dir);
    nats = await startNatsServer({ configFile: file, env: await passwordEnvironment(file) });
    // What the setup step does with the admin user, run with the migrations.
    const { nc } = await connectAs('admin');
    adminJsm = await jetstreamManager(nc);
    await adminJsm.streams.add({ name: 'AUTH_EVENTS', subjects: ['auth.>'] });
    await adminJsm.streams.add({ name: 'TODO_EVENTS', subjects: ['todo.>'] });
    await adminJsm.streams.add({ name: 'DEAD_LETTERS', subjects: ['deadletter.>'] });
    await adminJsm.consumers.add('AUTH_EVENTS', {
      durable_name: DURABLE,
      filter_subject: 'auth.user.deleted',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  }, 30_000);

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await nats?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a connection without credentials or with a wrong password', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toBeInstanceOf(AuthorizationError);
    await expect(
      connect({ servers: nats.url, user: 'todo', pass: passwords.auth, reconnect: false }),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });

  describe('the auth service', () => {
    it('publishes its events and gets a PubAck', async () => {
      const { nc, violations } = await connectAs('auth');
      const before = await messagesIn('AUTH_EVENTS');

      const ack = await jetstream(nc).publish('auth.user.deleted', JSON.stringify({ userId: 'u-1' }), {
        msgID: nuid.next(),
      });

      expect(ack).toMatchObject({ stream: 'AUTH_EVENTS', seq: before.last_seq + 1, duplicate: false });
      await nc.flush();
      expect(violations).toEqual([]);
    });

    it("cannot publish the todo service's events: refused, and TODO_EVENTS never stores it", async () => {
      const { nc, violations } = await connectAs('auth');
      const before = await messagesIn('TODO_EVENTS');

      await expect(jetstream(nc).publish('todo.created', '{}', { timeout: 2_000 })).rejects.toThrow(
        /Permissions Violation for Publish to "todo.created"/,
      );

      await vi.waitFor(() => expect(violations).toContain('publish todo.created'));
      expect((await messagesIn('TODO_EVENTS')).messages).toBe(before.messages);
      expect(nats.log()).toContain('Publish Violation - User "auth", Subject "todo.created"');
    });

    it('cannot use the JetStream API at all', async () => {
      const { nc, violations } = await connectAs('auth');

      const create = JSON.stringify({ name: 'X', subjects: ['x.>'] });
      await expect(nc.request('$JS.API.STREAM.CREATE.X', create, { timeout: 2_000 })).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jetstreamManager(nc)).rejects.toThrow(/Permissions Violation for Publish to "\$JS.API.INFO"/);

      await vi.waitFor(() => expect(violations).toEqual(['publish $JS.API.STREAM.CREATE.X', 'publish $JS.API.INFO']));
      await expect(adminJsm.streams.info('X')).rejects.toThrow(/stream not found/);
    });
  });

  describe('the todo service', () => {
    it('publishes its events and its dead letters and gets PubAcks', async () => {
      const { nc, violations } = await connectAs('todo');
      const js = jetstream(nc);

      const event = await js.publish('todo.created', '{}', { msgID: nuid.next() });
      const deadLetter = await js.publish('deadletter.todo.auth.session.revoked', '{}', { msgID: nuid.next() });

      expect(event.stream).toBe('TODO_EVENTS');
      expect(deadLetter.stream).toBe('DEAD_LETTERS');
      await nc.flush();
      expect(violations).toEqual([]);
    });

    it('reads AUTH_EVENTS message by message, read-only, as its revocation follower does', async () => {
      const auth = await connectAs('auth');
      const published = await jetstream(auth.nc).publish('auth.session.revoked', JSON.stringify({ sessionId: 's-1' }));
      const { nc, violations } = await connectAs('todo');

      // What each replica's revocation follower does: where the stream starts, then the next message by sequence.
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const { state } = await jsm.streams.info('AUTH_EVENTS');
      const seen: number[] = [];
      for (let seq = state.first_seq; ; ) {
        const next = { seq, next_by_subj: 'auth.>' } as unknown as MsgRequest;
        const msg = await jsm.streams.getMessage('AUTH_EVENTS', next);
        if (!msg) break;
        seen.push(msg.seq);
        seq = msg.seq + 1;
      }

      expect(seen).toContain(published.seq);
      await nc.flush();
      expect(violations).toEqual([]);
    });

    it('takes events from the shared durable and acknowledges them', async () => {
      const auth = await connectAs('auth');
      await jetstream(auth.nc).publish('auth.user.deleted', JSON.stringify({ userId: 'u-2' }));
      await jetstream(auth.nc).publish('auth.user.deleted', JSON.stringify({ userId: 'u-3' }));
      const { nc, violations } = await connectAs('todo');

      const durable = await jetstream(nc, { checkAPI: false }).consumers.get('AUTH_EVENTS', DURABLE);
      const deliveries: DeliveryInfo[] = [];
      for await (const msg of await durable.fetch({ max_messages: 100, expires: 1_000 })) {
        deliveries.push(msg.info);
        // An event that breaks its contract is terminated; every other one is acknowledged. (A `term`
        // with a reason needs nats-server 2.10.4+: older servers ignore `+TERM <reason>`.)
        if (msg.json<{ userId: string }>().userId === 'u-3') msg.term();
        else expect(await msg.ackAck()).toBe(true);
      }

      expect(deliveries.length).toBeGreaterThanOrEqual(2);
      // Delivered with the acknowledgement subject the allow rule names: $JS.ACK.<stream>.<consumer>.…
      // (the v2 form, $JS.ACK.<domain>.<account hash>.…, would carry an account hash and need its own rule).
      for (const delivery of deliveries) {
        expect(delivery).toMatchObject({ stream: 'AUTH_EVENTS', consumer: DURABLE, account_hash: '' });
      }
      await vi.waitFor(async () => {
        const info = await adminJsm.consumers.info('AUTH_EVENTS', DURABLE);
        expect(info).toMatchObject({ num_ack_pending: 0, num_pending: 0 });
      });
      await nc.flush();
      expect(violations).toEqual([]);
    });

    it('cannot forge an auth event: the server refuses it and AUTH_EVENTS never stores it', async () => {
      const { nc, violations } = await connectAs('todo');
      const before = await messagesIn('AUTH_EVENTS');

      await expect(
        jetstream(nc).publish('auth.user.deleted', JSON.stringify({ userId: 'u-1' }), { timeout: 2_000 }),
      ).rejects.toThrow(/Permissions Violation for Publish to "auth.user.deleted"/);
      // Not even as a plain NATS message.
      nc.publish('auth.user.deleted', JSON.stringify({ userId: 'u-1' }));
      await nc.flush();

      await vi.waitFor(() => expect(violations).toEqual(['publish auth.user.deleted', 'publish auth.user.deleted']));
      expect(await messagesIn('AUTH_EVENTS')).toMatchObject({ messages: before.messages, last_seq: before.last_seq });
      expect(nats.log()).toContain('Publish Violation - User "todo", Subject "auth.user.deleted"');
    });

    it('cannot create, change or delete any consumer, nor use one but its durable', async () => {
      const { nc, violations } = await connectAs('todo');
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const request = (subject: string, config: Record<string, unknown>) =>
        nc.request(subject, JSON.stringify({ stream_name: 'AUTH_EVENTS', config }), { timeout: 2_000 });

      // Not the durable-only API, not the named form, and not even the ephemeral form: a create request
      // naming an existing consumer in its body changes that consumer.
      await expect(
        request('$JS.API.CONSUMER.DURABLE.CREATE.AUTH_EVENTS.todo-sneaky', { durable_name: 'todo-sneaky' }),
      ).rejects.toThrow(/Permissions Violation/);
      await expect(
        request(`$JS.API.CONSUMER.CREATE.AUTH_EVENTS.${DURABLE}`, { name: DURABLE, filter_subject: 'auth.>' }),
      ).rejects.toThrow(/Permissions Violation/);
      await expect(
        request('$JS.API.CONSUMER.CREATE.AUTH_EVENTS', { name: DURABLE, ack_policy: AckPolicy.Explicit }),
      ).rejects.toThrow(/Permissions Violation/);
      await expect(jsm.consumers.add('TODO_EVENTS', { durable_name: 'todo-sneaky' })).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.consumers.update('AUTH_EVENTS', DURABLE, { max_ack_pending: 1 })).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.consumers.delete('AUTH_EVENTS', DURABLE)).rejects.toThrow(/Permissions Violation/);
      // Another team's consumer on the same stream: neither its configuration nor its messages.
      await adminJsm.consumers.add('AUTH_EVENTS', { durable_name: 'billing', ack_policy: AckPolicy.Explicit });
      await expect(jsm.consumers.info('AUTH_EVENTS', 'billing')).rejects.toThrow(/Permissions Violation/);
      await expect(
        nc.request('$JS.API.CONSUMER.MSG.NEXT.AUTH_EVENTS.billing', JSON.stringify({ batch: 1 }), { timeout: 2_000 }),
      ).rejects.toThrow(/Permissions Violation/);

      await vi.waitFor(() =>
        expect(violations).toEqual([
          'publish $JS.API.CONSUMER.DURABLE.CREATE.AUTH_EVENTS.todo-sneaky',
          `publish $JS.API.CONSUMER.CREATE.AUTH_EVENTS.${DURABLE}`,
          'publish $JS.API.CONSUMER.CREATE.AUTH_EVENTS',
          'publish $JS.API.CONSUMER.CREATE.TODO_EVENTS.todo-sneaky',
          `publish $JS.API.CONSUMER.CREATE.AUTH_EVENTS.${DURABLE}.auth.user.deleted`,
          `publish $JS.API.CONSUMER.DELETE.AUTH_EVENTS.${DURABLE}`,
          'publish $JS.API.CONSUMER.INFO.AUTH_EVENTS.billing',
          'publish $JS.API.CONSUMER.MSG.NEXT.AUTH_EVENTS.billing',
        ]),
      );
      const shared = (await adminJsm.consumers.info('AUTH_EVENTS', DURABLE)).config;
      expect(shared.filter_subject).toBe('auth.user.deleted');
      expect(shared.max_ack_pending).not.toBe(1);
      await expect(adminJsm.consumers.info('TODO_EVENTS', 'todo-sneaky')).rejects.toThrow(/consumer not found/);
    });

    it('cannot create, change or delete streams', async () => {
      const { nc, violations } = await connectAs('todo');
      const jsm = await jetstreamManager(nc, { checkAPI: false });

      await expect(jsm.streams.add({ name: 'TODO_SNEAKY', subjects: ['sneaky.>'] })).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.streams.update('AUTH_EVENTS', { subjects: ['auth.>', 'sneaky.>'] })).rejects.toThrow(
        /Permissions Violation/,
      );
      await expect(jsm.streams.delete('AUTH_EVENTS')).rejects.toThrow(/Permissions Violation/);

      await vi.waitFor(() =>
        expect(violations).toEqual([
          'publish $JS.API.STREAM.CREATE.TODO_SNEAKY',
          'publish $JS.API.STREAM.UPDATE.AUTH_EVENTS',
          'publish $JS.API.STREAM.DELETE.AUTH_EVENTS',
        ]),
      );
      expect((await adminJsm.streams.info('AUTH_EVENTS')).config.subjects).toEqual(['auth.>']);
    });

    it("cannot listen to the auth events or to anyone else's inbox", async () => {
      const { nc, violations } = await connectAs('todo');

      const closed = await Promise.all(
        ['auth.>', '_INBOX.>', '_INBOX_auth.>'].map((subject) => nc.subscribe(subject).closed),
      );

      for (const reason of closed) expect(reason).toBeInstanceOf(PermissionViolationError);
      await vi.waitFor(() =>
        expect(violations).toEqual(['subscription auth.>', 'subscription _INBOX.>', 'subscription _INBOX_auth.>']),
      );
    });
  });
});

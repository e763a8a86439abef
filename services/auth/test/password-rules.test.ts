import { randomBytes, randomUUID } from 'node:crypto';
import { hash, type Options, verify } from '@node-rs/argon2';
import { loadConfig } from '@todo/platform/config';
import { bearer } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../src/definition.ts';
import { type AuthHarness, startAuth } from './support/harness.ts';

// Argon2id as the service hashed passwords before they were normalised: same algorithm and cost, raw string.
const ARGON2ID = 2 as NonNullable<Options['algorithm']>;
const hashAsBefore = (raw: string) =>
  hash(raw, { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 });

const newEmail = () => `user-${randomUUID()}@example.com`;

describe('a password is the same however the keyboard composes it', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  // `é`, `è`, `û` as single code points, as most keyboards send them…
  const composed = 'crème brûlée au café';
  // …and as a letter followed by a combining accent, as some keyboards and pasted text do.
  const decomposed = composed.normalize('NFD');

  const register = (email: string, password: string) =>
    auth.client.POST('/auth/register', { body: { email, password } });
  const logIn = (email: string, password: string) => auth.client.POST('/auth/login', { body: { email, password } });

  it('registered with composed accents, it logs in typed with combining ones', async () => {
    expect(decomposed).not.toBe(composed);
    const email = newEmail();
    expect((await register(email, composed)).response.status).toBe(201);
    expect((await logIn(email, decomposed)).response.status).toBe(200);
    expect((await logIn(email, composed)).response.status).toBe(200);
  });

  it('registered with combining accents, it logs in typed with composed ones', async () => {
    const email = newEmail();
    expect((await register(email, decomposed)).response.status).toBe(201);
    expect((await logIn(email, composed)).response.status).toBe(200);
    expect((await logIn(email, decomposed)).response.status).toBe(200);
  });

  it('the password that confirms a change or a deletion may be typed either way too', async () => {
    const user = await auth.newUser({ password: composed });
    const changed = await auth.client.PUT('/auth/me/password', {
      body: { currentPassword: decomposed, newPassword: 'a new crème brûlée'.normalize('NFD') },
      headers: bearer(user.accessToken),
    });
    expect(changed.response.status).toBe(204);
    const deleted = await auth.client.DELETE('/auth/me', {
      body: { password: 'a new crème brûlée' },
      headers: bearer(user.accessToken),
    });
    expect(deleted.response.status).toBe(204);
  });

  it('length is counted after normalising: 11 accented letters are too short, however they are typed', async () => {
    const res = await auth.client.POST('/auth/register', {
      body: {
        email: newEmail(),
        password: 'é'.repeat(11).normalize('NFD'), // 22 code points as sent, 11 as the user sees them
      },
    });
    expect(res.response.status).toBe(422);
    expect(res.error?.errors).toEqual([{ pointer: '/password', detail: 'Must be at least 12 characters long.' }]);
  });
});

describe('a user whose password was hashed before passwords were normalised', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  // Typed with combining accents when the account was made; its hash holds exactly that string.
  const asFirstTyped = 'Zürich in the rain, 1984'.normalize('NFD');

  const storedHash = async (userId: string) => {
    const [row] = await auth.sql('select password_hash from auth.credentials where user_id = $1', [userId]);
    return row?.password_hash as string;
  };
  /** An account as this change found it: its hash made from the raw, non-normalised password. */
  const legacyUser = async (raw: string) => {
    const user = await auth.newUser();
    const legacy = await hashAsBefore(raw);
    await auth.sql('update auth.credentials set password_hash = $1 where user_id = $2', [legacy, user.id]);
    return { ...user, legacy };
  };

  it('still logs in as they always typed it, and the stored hash is upgraded to the normalised form', async () => {
    const user = await legacyUser(asFirstTyped);
    expect(await verify(user.legacy, asFirstTyped.normalize('NFKC'))).toBe(false);

    const login = await auth.client.POST('/auth/login', { body: { email: user.email, password: asFirstTyped } });
    expect(login.response.status).toBe(200);

    const upgraded = await storedHash(user.id);
    expect(upgraded).not.toBe(user.legacy);
    expect(await verify(upgraded, asFirstTyped.normalize('NFKC'))).toBe(true);
    // Now either form works, and a login with the upgraded hash leaves it alone.
    const composed = asFirstTyped.normalize('NFC');
    expect(
      (await auth.client.POST('/auth/login', { body: { email: user.email, password: composed } })).response.status,
    ).toBe(200);
    expect(await storedHash(user.id)).toBe(upgraded);
  });

  it('a wrong password is still a 401, and the stored hash stays as it was', async () => {
    const user = await legacyUser(asFirstTyped);
    const login = await auth.client.POST('/auth/login', {
      body: { email: user.email, password: 'Zurich in the rain, 1984' },
    });
    expect(login.response.status).toBe(401);
    expect(await storedHash(user.id)).toBe(user.legacy);
  });

  it('a common password set before the list existed still logs in: the list guards new passwords only', async () => {
    const user = await legacyUser('qwerty123456');
    const login = await auth.client.POST('/auth/login', { body: { email: user.email, password: 'qwerty123456' } });
    expect(login.response.status).toBe(200);
  });
});

describe('a commonly used password is refused with a reason', () => {
  let auth: AuthHarness;
  beforeAll(async () => {
    auth = await startAuth();
  });
  afterAll(() => auth?.stop());

  const commonPassword = {
    status: 422,
    type: 'tag:todo-platform,2026:problems/common-password',
  };

  it('at registration, in any letter case and in full-width letters, and no account is made', async () => {
    // `ｑｗｅｒｔｙ１２３４５６` is `qwerty123456` once normalised.
    for (const password of ['qwerty123456', 'PassWord1234', 'ｑｗｅｒｔｙ１２３４５６']) {
      const email = newEmail();
      const res = await auth.client.POST('/auth/register', { body: { email, password } });
      expect(res.response.status, password).toBe(422);
      expect(res.error).toMatchObject({
        ...commonPassword,
        errors: [{ pointer: '/password', detail: expect.stringContaining('most commonly used passwords') }],
      });
      const [row] = await auth.sql('select count(*)::int as n from auth.users where email = $1', [email]);
      expect(row?.n).toBe(0);
    }
  });

  it('at a password change, pointing at the new password, and the old password keeps working', async () => {
    const user = await auth.newUser();
    const res = await auth.client.PUT('/auth/me/password', {
      body: { currentPassword: user.password, newPassword: '1q2w3e4r5t6y' },
      headers: bearer(user.accessToken),
    });
    expect(res.response.status).toBe(422);
    expect(res.error).toMatchObject({
      ...commonPassword,
      errors: [{ pointer: '/newPassword', detail: expect.stringContaining('most commonly used passwords') }],
    });
    const login = await auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } });
    expect(login.response.status).toBe(200);
  });
});

describe('argon2 settings below OWASP minimum stop the service before it starts', () => {
  const env = { AUTH_KEK: randomBytes(32).toString('base64') };

  it.each([
    ['PASSWORD_MEMORY_KIB', '8192'],
    ['PASSWORD_MEMORY_KIB', '19455'],
    ['PASSWORD_TIME_COST', '1'],
  ])('%s=%s is refused with one line that names the variable', (name, value) => {
    expect(() => loadConfig(authService.config, { ...env, [name]: value })).toThrow(
      new RegExp(`^Invalid configuration: ${name} must be at least \\d+ \\(OWASP's minimum for argon2id[^\\n]*$`),
    );
  });

  it("OWASP's minimum is the default, and more is accepted", () => {
    expect(loadConfig(authService.config, env)).toMatchObject({ PASSWORD_MEMORY_KIB: 19_456, PASSWORD_TIME_COST: 2 });
    const stronger = loadConfig(authService.config, { ...env, PASSWORD_MEMORY_KIB: '65536', PASSWORD_TIME_COST: '3' });
    expect(stronger).toMatchObject({ PASSWORD_MEMORY_KIB: 65_536, PASSWORD_TIME_COST: 3 });
  });
});

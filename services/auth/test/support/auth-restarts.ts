/**
 * For stories about the auth service's keys: one database and one events namespace of the test file's own,
 * on which the service is started, stopped and started again with another configuration (a KEK rotation),
 * its log lines captured, and its key commands run as an operator runs them.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@todo/platform/logger';
import {
  type Accounts,
  accountsOn,
  cloneDatabase,
  query,
  removeStreams,
  runScript,
  startTestService,
  type TestDatabase,
  type TestService,
  uniqueName,
} from '@todo/testkit';
import { inject } from 'vitest';
import type { AuthConfig } from '../../src/config.ts';
import { authService } from '../../src/definition.ts';
import type { SigningKeys } from '../../src/keys/signing-keys.ts';
import { buildAuthService } from '../../src/service.ts';

export type AuthService = TestService<AuthConfig, { keys: SigningKeys }, 'auth'> & Accounts;

export const newKek = () => randomBytes(32).toString('base64');

export interface AuthPlace {
  database: TestDatabase;
  /** Starts the auth service here; `AUTH_KEK` and anything else it needs beyond the test defaults in `env`. */
  start(env: Record<string, string>, logger?: Logger): Promise<AuthService>;
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs a key command (`keys-rotate.ts`, `keys-rewrap.ts`) on this database as an operator would. */
  run(
    command: 'keys-rotate' | 'keys-rewrap',
    env: Record<string, string>,
  ): Promise<{ code: number | undefined; output: string }>;
  /** Drops the database and the namespace's streams. */
  remove(): Promise<void>;
}

export async function authPlace(): Promise<AuthPlace> {
  const database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  const nats = { url: inject('natsUrl') };
  const eventsNamespace = uniqueName('ns');
  const sql = (text: string, values?: unknown[]) => query(database.url, text, values);
  return {
    database,
    sql,
    async start(env, logger) {
      const auth = await startTestService(authService, buildAuthService, {
        api: 'auth',
        database,
        nats,
        eventsNamespace,
        logger,
        env: {
          JWT_ISSUER: 'http://auth.test',
          JWT_AUDIENCE: 'todo-api',
          REGISTER_MAX_PER_IP_PER_HOUR: '10000',
          ...env,
        },
      });
      return { ...auth, ...accountsOn(auth.client) };
    },
    run: (command, env) =>
      runScript(fileURLToPath(new URL(`../../src/${command}.ts`, import.meta.url)), {
        DATABASE_URL: database.url,
        ...env,
      }),
    async remove() {
      await database.drop();
      await removeStreams(nats.url, eventsNamespace);
    },
  };
}

/** A value as the first sealed format had it (version 1, no KEK id): what deployments from before KEK ids hold. */
export function sealV1(kek: Buffer, plaintext: Buffer, context: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(1), nonce, cipher.getAuthTag(), ciphertext]);
}

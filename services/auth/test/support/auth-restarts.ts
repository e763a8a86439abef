/**
 * For stories about the auth service's keys: one database and one events namespace of the test file's own,
 * on which the service is started, stopped and started again with another configuration (a KEK rotation),
 * its log lines captured, and its key commands run as an operator runs them.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@todo/platform/logger';
import {
  type Accounts,
  accountsOn,
  cloneDatabase,
  removeStreams,
  startTestService,
  type TestDatabase,
  type TestService,
  uniqueName,
} from '@todo/testkit';
import pg from 'pg';
import { inject } from 'vitest';
import type { AuthConfig } from '../../src/config.ts';
import { authService } from '../../src/definition.ts';
import type { SigningKeys } from '../../src/keys/signing-keys.ts';
import { buildAuthService } from '../../src/service.ts';

export type AuthService = TestService<AuthConfig, { keys: SigningKeys }> & Accounts;

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
  ): Promise<{ code: number | null; output: string }>;
  /** Drops the database and the namespace's streams. */
  remove(): Promise<void>;
}

export async function authPlace(): Promise<AuthPlace> {
  const database = await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate'));
  const nats = { url: inject('natsUrl') };
  const eventsNamespace = uniqueName('ns');
  const sql = async (text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    database,
    sql,
    async start(env, logger) {
      const auth = await startTestService(authService, buildAuthService, {
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
      return { ...auth, ...accountsOn(auth.http) };
    },
    run: (command, env) =>
      runNode(fileURLToPath(new URL(`../../src/${command}.ts`, import.meta.url)), {
        DATABASE_URL: database.url,
        ...env,
      }),
    async remove() {
      await database.drop();
      await removeStreams(nats.url, eventsNamespace);
    },
  };
}

function runNode(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, ...env, LOG_LEVEL: 'info' } });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** A value as the first sealed format had it (version 1, no KEK id): what deployments from before KEK ids hold. */
export function sealV1(kek: Buffer, plaintext: Buffer, context: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(1), nonce, cipher.getAuthTag(), ciphertext]);
}

/**
 * A real auth service in-process for the auth service's own black-box stories: its own database cloned from
 * the migrated template (or a given one), real NATS, ephemeral ports, and accounts on its API.
 */
import { randomBytes } from 'node:crypto';
import {
  type Accounts,
  accountsOn,
  cloneDatabase,
  startTestService,
  type TestDatabase,
  type TestNats,
  type TestService,
  uniqueName,
} from '@todo/testkit';
import { inject } from 'vitest';
import type { AuthConfig } from '../../src/config.ts';
import { authService } from '../../src/definition.ts';
import type { SigningKeys } from '../../src/keys/signing-keys.ts';
import { buildAuthService } from '../../src/service.ts';

export type AuthHarness = TestService<AuthConfig, { keys: SigningKeys }> & Accounts & { stop(): Promise<void> };

export interface StartAuthOptions {
  /** Share a database (a second replica); otherwise a fresh clone is made and dropped at the end. */
  database?: TestDatabase;
  env?: Record<string, string>;
  nats?: TestNats;
}

export async function startAuth(options: StartAuthOptions = {}): Promise<AuthHarness> {
  const database = options.database ?? (await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate')));
  const auth = await startTestService(authService, buildAuthService, {
    database,
    nats: options.nats ?? { url: inject('natsUrl') },
    eventsNamespace: uniqueName('ns'),
    env: {
      AUTH_KEK: randomBytes(32).toString('base64'),
      JWT_ISSUER: 'http://auth.test',
      JWT_AUDIENCE: 'todo-api',
      // Test files register many users from 127.0.0.1; the registration limit has its own test.
      REGISTER_MAX_PER_IP_PER_HOUR: '10000',
      ...options.env,
    },
  });
  return { ...auth, ...accountsOn(auth.http), stop: () => auth.stop({ cleanUp: options.database === undefined }) };
}

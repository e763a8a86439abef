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
  type TestNats,
  type TestService,
  uniqueName,
} from '@todo/testkit';
import { inject } from 'vitest';
import type { AuthConfig } from '../../src/config.ts';
import { authService } from '../../src/definition.ts';
import type { SigningKeys } from '../../src/keys/signing-keys.ts';
import { buildAuthService } from '../../src/service.ts';

export type AuthHarness = TestService<AuthConfig, { keys: SigningKeys }, 'auth'> & Accounts & { stop(): Promise<void> };

export interface StartAuthOptions {
  /** Another replica of this one: same database and NATS namespace, left to the first to clean up. */
  replicaOf?: AuthHarness;
  env?: Record<string, string>;
  nats?: TestNats;
}

export async function startAuth(options: StartAuthOptions = {}): Promise<AuthHarness> {
  const first = options.replicaOf;
  const database = first?.database ?? (await cloneDatabase(inject('databaseServerUrl'), inject('databaseTemplate')));
  const auth = await startTestService(authService, buildAuthService, {
    api: 'auth',
    database,
    nats: options.nats ?? { url: first?.config.NATS_URL ?? inject('natsUrl') },
    eventsNamespace: first?.config.EVENTS_NAMESPACE ?? uniqueName('ns'),
    env: {
      AUTH_KEK: randomBytes(32).toString('base64'),
      JWT_ISSUER: 'http://auth.test',
      JWT_AUDIENCE: 'todo-api',
      // Test files register many users from 127.0.0.1; the registration limit has its own test.
      REGISTER_MAX_PER_IP_PER_HOUR: '10000',
      ...options.env,
    },
  });
  return { ...auth, ...accountsOn(auth.client), stop: () => auth.stop({ cleanUp: first === undefined }) };
}

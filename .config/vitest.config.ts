/** One vitest run over every workspace's project; each project keeps its own config next to its code. */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import auth from '../services/auth/vitest.config.ts';
import todo from '../services/todo/vitest.config.ts';

const services = { auth, todo };

/**
 * The services' stories again, the two ways production reaches its database: through a PgBouncer in transaction
 * pooling mode (Neon's pooled endpoint; migrations go direct), and over TLS only with `sslmode=verify-full`
 * against a CA made for the run (see libs/testkit's global setup). The stories that cover the whole API and the
 * events, not those that run their own PostgreSQL or NATS (those reach no shared database either way).
 */
const variant = (
  service: 'auth' | 'todo',
  via: 'pgbouncer' | 'tls',
  include: string[],
): TestProjectInlineConfiguration => ({
  ...services[service],
  root: `services/${service}`,
  test: { ...services[service].test, name: `${service} via ${via}`, env: { TEST_DATABASE_VIA: via }, include },
});
const authStories = [
  'test/registration-and-login.test.ts',
  'test/refresh-tokens.test.ts',
  'test/logout.test.ts',
  'test/oauth.test.ts',
  'test/account.test.ts',
  'test/signing-keys.test.ts',
];
const todoStories = [
  'test/journey.test.ts',
  'test/todo-lifecycle.test.ts',
  'test/isolation.test.ts',
  'test/listing.test.ts',
  'test/idempotency-and-concurrency.test.ts',
  'test/revocation.test.ts',
  'test/events.test.ts',
  'test/per-user-limits.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: [
      'libs/*/vitest.config.ts',
      'services/*/vitest.config.ts',
      variant('auth', 'pgbouncer', authStories),
      variant('todo', 'pgbouncer', todoStories),
      variant('auth', 'tls', authStories),
      variant('todo', 'tls', todoStories),
    ],
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report is what CI counts ("N passed, M failed").
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
  },
});

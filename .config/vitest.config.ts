/** One vitest run over every workspace's project; each project keeps its own config next to its code. */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import auth from '../services/auth/vitest.config.ts';
import todo from '../services/todo/vitest.config.ts';

const services = { auth, todo };

/**
 * The services' stories again, the two ways production reaches its database: through a PgBouncer in transaction
 * pooling mode (Neon's pooled endpoint; migrations go direct), and over TLS only with `sslmode=verify-full`
 * against a CA made for the run (see libs/testkit's global setup). Not every story: for the pooler, whose
 * transaction mode is what breaks session state, those that use the database the most ways (sessions, the
 * PostgreSQL-backed limits, revocations through the outbox; auth's database-endpoints story logs in through one
 * as well); for TLS, which changes only the connection, the main journeys. The rest would add minutes and no new
 * way of talking to PostgreSQL.
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

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    projects: [
      'libs/*/vitest.config.ts',
      'services/*/vitest.config.ts',
      variant('auth', 'pgbouncer', [
        'test/registration-and-login.test.ts',
        'test/refresh-tokens.test.ts',
        'test/logout.test.ts',
      ]),
      variant('todo', 'pgbouncer', ['test/journey.test.ts', 'test/todo-lifecycle.test.ts', 'test/revocation.test.ts']),
      variant('auth', 'tls', ['test/registration-and-login.test.ts']),
      variant('todo', 'tls', ['test/journey.test.ts', 'test/todo-lifecycle.test.ts']),
    ],
    pool: 'forks',
    // Three files at a time on CI's two cores: most stories wait on the network, the database and NATS, not on
    // the CPU (measured: 330 s instead of 430 s for the whole run, with the same results).
    maxWorkers: 3,
    // The JSON report is what CI counts ("N passed, M failed").
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
  },
});

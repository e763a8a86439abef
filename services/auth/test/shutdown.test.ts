import { httpClient } from '@todo/testkit';
import { describe, expect, it, vi } from 'vitest';
import { startAuth } from './support/harness.ts';

describe('stopping a service drains it instead of dropping requests', () => {
  it('readiness fails first, requests in flight finish, then nothing is accepted', async () => {
    const auth = await startAuth({ env: { SHUTDOWN_DELAY_MS: '600' } });
    const user = await auth.newUser();
    const ops = httpClient(auth.service.ops.url);

    // A login takes a while (argon2id); stop while it runs.
    const inFlight = auth.client.POST('/auth/login', { body: { email: user.email, password: user.password } });
    const stopped = auth.stop();

    await vi.waitFor(async () => expect((await ops.get('/readyz')).status).toBe(503), {
      message: 'readiness to fail',
      timeout: 500,
    });
    expect((await ops.get<{ status: string }>('/readyz')).body.status).toBe('draining');
    // During the delay the load balancer may still send traffic: it is served.
    expect((await auth.client.GET('/.well-known/jwks.json')).response.status).toBe(200);

    expect((await inFlight).response.status).toBe(200);
    await stopped;
    await expect(fetch(`${auth.url}/.well-known/jwks.json`)).rejects.toThrow();
  });
});

import { bearer, metric } from '@todo/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.ts';

describe('an operator sees in /metrics which limit refused how many requests', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ todoEnv: { RATE_LIMIT_READS_PER_MINUTE: '1', RATE_LIMIT_WRITES_PER_MINUTE: '1' } });
  });
  afterAll(() => stack?.stop());

  const refusals = async (policy: string) =>
    metric((await stack.ops.get('/metrics')).text, 'rate_limit_rejections_total', { policy });

  it('counts each 429 under its policy: reads (counted in memory) and writes (counted in PostgreSQL)', async () => {
    const ann = await stack.auth.newUser();
    const before = { reads: await refusals('reads'), writes: await refusals('writes') };
    const write = () => stack.client.POST('/todos', { body: { title: 'one' }, headers: bearer(ann.accessToken) });
    const read = () => stack.client.GET('/todos', { headers: bearer(ann.accessToken) });

    expect((await write()).response.status).toBe(201);
    expect((await write()).response.status).toBe(429);
    expect((await write()).response.status).toBe(429);
    expect((await read()).response.status).toBe(200);
    expect((await read()).response.status).toBe(429);

    expect((await refusals('writes')) - before.writes).toBe(2);
    expect((await refusals('reads')) - before.reads).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { uniqueName } from '../src/databases.ts';
import { createdAtOf } from '../src/leftovers.ts';

describe('recognising what a test run left behind', () => {
  it('reads the creation time back from every name a run makes', () => {
    const before = Date.now();
    for (const prefix of ['test', 'tmpl', 'ns']) {
      const created = createdAtOf(uniqueName(prefix));
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(Date.now());
    }
    // A namespaced stream name: upper-cased, with the stream suffix.
    expect(createdAtOf(`${uniqueName('ns').toUpperCase()}_AUTH_EVENTS`)).toBeGreaterThanOrEqual(before);
  });

  it('leaves everything else alone', () => {
    for (const name of ['todo_platform', 'postgres', 'test', 'AUTH_EVENTS', 'test_table', 'ns_abc']) {
      expect(createdAtOf(name)).toBeUndefined();
    }
  });
});

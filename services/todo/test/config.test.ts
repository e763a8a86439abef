import { ConfigError, loadConfig } from '@todo/platform/config';
import { describe, expect, it } from 'vitest';
import { todoConfigSchema } from '../src/config.ts';

describe("the todo service's settings", () => {
  it('refuses a revocation bound that would answer 503 while readiness still says the feed is fine', () => {
    const load = (max: string) =>
      loadConfig(todoConfigSchema, { REVOCATION_STALE_AFTER_SECONDS: '10', REVOCATION_MAX_STALENESS_SECONDS: max });
    expect(() => load('5')).toThrow(ConfigError);
    expect(() => load('5')).toThrow(
      /REVOCATION_MAX_STALENESS_SECONDS must be 0 or at least REVOCATION_STALE_AFTER_SECONDS/,
    );
    expect(load('0').REVOCATION_MAX_STALENESS_SECONDS).toBe(0);
    expect(load('10').REVOCATION_MAX_STALENESS_SECONDS).toBe(10);
  });
});

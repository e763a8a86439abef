import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfigSchema, ConfigError, env, loadConfig } from '../src/config.ts';

describe('configuration from the environment', () => {
  const schema = baseConfigSchema.extend({ PORT: env.port(3000), SECRET: z.string().min(8) });

  it('applies defaults and coerces types, and the result is frozen', () => {
    const config = loadConfig(schema, { SECRET: 'long enough', PORT: '8080' });
    expect(config.PORT).toBe(8080);
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.TRUST_PROXY_HOPS).toBe(0);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('fails fast with one line naming every bad variable, and never echoes a value', () => {
    let error: unknown;
    try {
      loadConfig(schema, { PORT: 'eighty', NATS_URL: 'http://x', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    for (const name of ['PORT', 'NATS_URL', 'LOG_LEVEL']) expect(message).toContain(name);
    expect(message).toContain('SECRET is required');
    // A variable that is set but of the wrong type is not "required": it says what it must be, not what it is.
    expect(message).toContain('PORT must be a number');
    expect(message).not.toContain('eighty');
    expect(() => loadConfig(schema, { SECRET: 'long enough', PORT: '70000' })).toThrow(
      'Invalid configuration: PORT must be at most 65535',
    );
  });

  it('reads CORS_ORIGINS as exact origins, none by default, and refuses an entry no browser would send', () => {
    const secret = { SECRET: 'long enough' };
    expect(loadConfig(schema, secret).CORS_ORIGINS).toEqual([]);
    expect(loadConfig(schema, { ...secret, CORS_ORIGINS: '' }).CORS_ORIGINS).toEqual([]);
    expect(
      loadConfig(schema, { ...secret, CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,' }).CORS_ORIGINS,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
    const refused = [
      '*',
      'https://*.example.com',
      'null',
      'app.example.com',
      'ftp://app.example.com',
      'https://app.example.com/',
      'https://app.example.com/app',
      'https://App.Example.com',
      'https://app.example.com:443',
      'https://user@app.example.com',
    ];
    for (const entry of refused) {
      expect(() => loadConfig(schema, { ...secret, CORS_ORIGINS: `https://ok.example.com,${entry}` }), entry).toThrow(
        /^Invalid configuration: CORS_ORIGINS entry 2 is not an origin/,
      );
    }
  });

  it('reads booleans strictly', () => {
    expect(loadConfig(schema, { SECRET: 'long enough', TRUST_PROXY_HOPS: '2' }).TRUST_PROXY_HOPS).toBe(2);
    expect(() => loadConfig(schema, { SECRET: 'long enough', TRUST_PROXY_HOPS: 'yes' })).toThrow(/TRUST_PROXY_HOPS/);
  });

  it('bounds the wait for a database connection and the time a client may take to send its request', () => {
    const config = loadConfig(schema, { SECRET: 'long enough' });
    expect(config).toMatchObject({
      DATABASE_ACQUIRE_TIMEOUT_MS: 3_000,
      DATABASE_POOL_MAX_WAITING: 100,
      HTTP_HEADERS_TIMEOUT_MS: 15_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 65_000,
    });
    const short = { SECRET: 'long enough', HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '500' };
    expect(loadConfig(schema, short).HTTP_HEADERS_TIMEOUT_MS).toBe(500);
  });

  it('refuses a header timeout longer than the request timeout, naming both, in the same one line', () => {
    expect(() =>
      loadConfig(schema, { SECRET: 'long enough', HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    ).toThrow(/^Invalid configuration: HTTP_HEADERS_TIMEOUT_MS must be at most HTTP_REQUEST_TIMEOUT_MS/);
    expect(() => loadConfig(schema, { SECRET: 'long enough', DATABASE_ACQUIRE_TIMEOUT_MS: '0' })).toThrow(
      /DATABASE_ACQUIRE_TIMEOUT_MS/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { baseConfigSchema, ConfigError, loadConfig } from '../src/config.ts';
import { natsConnectionOptions } from '../src/events/connection.ts';

const options = (settings: Record<string, string>) =>
  natsConnectionOptions(
    { NATS_URL: 'nats://127.0.0.1:4222', ...settings },
    { name: 'todo', inboxPrefix: '_INBOX_todo' },
  );

describe('NATS connection settings are used as given, never silently dropped', () => {
  it('takes a user and password from NATS_URL and passes them as options, not in the server address', () => {
    const opts = options({ NATS_URL: 'nats://todo:p%40ss@nats.example:4222' });
    expect(opts).toMatchObject({
      servers: ['nats.example:4222'],
      user: 'todo',
      pass: 'p@ss',
      inboxPrefix: '_INBOX_todo',
    });
    expect(JSON.stringify(opts.servers)).not.toContain('p@ss');
  });

  it('reads a lone user part of NATS_URL as a token', () => {
    expect(options({ NATS_URL: 'nats://s3cr3t@nats.example:4222' })).toMatchObject({ token: 's3cr3t' });
  });

  it('requires TLS for a tls:// URL, and uses the CA, certificate and key files', () => {
    expect(options({ NATS_URL: 'tls://nats.example:4222' }).tls).toEqual({});
    expect(
      options({ NATS_TLS_CA_FILE: '/ca.pem', NATS_TLS_CERT_FILE: '/cert.pem', NATS_TLS_KEY_FILE: '/key.pem' }).tls,
    ).toEqual({ caFile: '/ca.pem', certFile: '/cert.pem', keyFile: '/key.pem' });
    expect(options({}).tls).toBeUndefined();
  });

  it('refuses a WebSocket URL (ws://, wss://) by name, in the config and here, instead of dialling its port over TCP', () => {
    const webSocket = /NATS_URL must not be a WebSocket \(ws:\/\/ or wss:\/\/\) URL: the services connect over TCP/;
    for (const url of ['ws://nats.example:8080', 'wss://nats.example:443', 'nats://a:4222,wss://b:443']) {
      expect(() => loadConfig(baseConfigSchema, { NATS_URL: url })).toThrow(ConfigError);
      expect(() => loadConfig(baseConfigSchema, { NATS_URL: url })).toThrow(webSocket);
      expect(() => options({ NATS_URL: url })).toThrow(ConfigError);
      expect(() => options({ NATS_URL: url })).toThrow(webSocket);
    }
    expect(() => loadConfig(baseConfigSchema, { NATS_URL: 'http://nats.example' })).toThrow(
      /NATS_URL must be a nats:\/\/ or tls:\/\/ URL/,
    );
    expect(loadConfig(baseConfigSchema, { NATS_URL: 'nats://a:4222, tls://b:4222' }).NATS_URL).toBe(
      'nats://a:4222, tls://b:4222',
    );
  });

  it('takes a list of servers', () => {
    expect(options({ NATS_URL: 'nats://a:4222, nats://b:4222' }).servers).toEqual(['a:4222', 'b:4222']);
  });

  it('uses NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE', () => {
    expect(options({ NATS_USER: 'auth', NATS_PASSWORD: 'pw' })).toMatchObject({ user: 'auth', pass: 'pw' });
    expect(options({ NATS_TOKEN: 't' })).toMatchObject({ token: 't' });
    expect(typeof options({ NATS_CREDS_FILE: '/run/secrets/todo.creds' }).authenticator).toBe('function');
  });

  it('refuses credentials given twice, a user without a password, and a certificate without its key', () => {
    expect(() => options({ NATS_URL: 'nats://u:p@h:4222', NATS_USER: 'u', NATS_PASSWORD: 'p' })).toThrow(
      /credentials given twice \(credentials in NATS_URL and NATS_USER\/NATS_PASSWORD\)/,
    );
    expect(() => options({ NATS_TOKEN: 't', NATS_CREDS_FILE: '/x' })).toThrow(ConfigError);
    expect(() => options({ NATS_USER: 'u' })).toThrow(/NATS_USER and NATS_PASSWORD must be set together/);
    expect(() => options({ NATS_TLS_CERT_FILE: '/c' })).toThrow(/NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE/);
    expect(() => options({ NATS_URL: 'nats://a:b@h1:4222,nats://c:d@h2:4222' })).toThrow(/different credentials/);
  });
});

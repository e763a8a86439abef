/**
 * docker-compose.yml, checked without a Docker engine: dclint validates it against the Compose Specification
 * and lints it (with .config/dclintrc.yaml, as `npx dclint docker-compose.yml` does), and the promises
 * the file makes in its comments are checked on the parsed file, as a fresh clone without .env sees it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DCLinter } from 'dclint';
import { describe, expect, it } from 'vitest';
import { isAlias, isMap, isScalar, isSeq, type Node, parse, parseDocument } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = readFileSync(`${root}docker-compose.yml`, 'utf8');

type Environment = Record<string, string | number | boolean | null> | string[];
type Port = string | number | { host_ip?: string; published?: string | number; target?: string | number };
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> | string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: Environment;
  ports?: Port[];
  command?: string | string[];
  restart?: string;
  healthcheck?: { test?: unknown; disable?: boolean };
}
const compose = parse(source, { merge: true }) as { services: Record<string, ComposeService> };
const services = Object.entries(compose.services);
const document = parseDocument(source);

/** `${NAME:-default}` and `${NAME}` as compose resolves them with nothing set: a fresh clone, no .env. */
const withDefaults = (value: string) =>
  value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_, _name, fallback = '') => fallback);

/** A service's environment as written, interpolations and all. */
function rawEnvironment(service: ComposeService): [string, string][] {
  const env = service.environment ?? {};
  return Array.isArray(env)
    ? env.map((entry) => [entry.split('=')[0] ?? '', entry.split('=').slice(1).join('=')])
    : Object.entries(env).map(([name, value]) => [name, value === null ? '' : String(value)]);
}

const environment = (service: ComposeService) =>
  new Map(rawEnvironment(service).map(([name, value]) => [name, withDefaults(value)]));

const dependencies = (service: ComposeService): Map<string, string | undefined> =>
  Array.isArray(service.depends_on)
    ? new Map(service.depends_on.map((name) => [name, undefined]))
    : new Map(Object.entries(service.depends_on ?? {}).map(([name, d]) => [name, d.condition]));

const command = (service: ComposeService) =>
  typeof service.command === 'string' ? service.command.split(/\s+/) : (service.command ?? []);

/** The compose services built from services/Dockerfile, with the service folder each builds. */
const built = services.flatMap(([name, service]) => {
  if (typeof service.build !== 'object') return [];
  const args = Array.isArray(service.build.args)
    ? Object.fromEntries(service.build.args.map((a) => a.split('=')))
    : (service.build.args ?? {});
  return [{ name, service, folder: String(args.SERVICE ?? ''), setup: command(service).includes('migrate.ts') }];
});

/**
 * The line (0-based) where a service's variable gets its value: its own line, or through an alias or a merge
 * (`<<: *env-common`) the line of the anchored definition.
 */
function definitionLine(service: string, variable: string): number {
  const env = document.getIn(['services', service, 'environment'], true);
  const find = (node: unknown): Node | undefined => {
    const map = isAlias(node) ? node.resolve(document) : node;
    if (!isMap(map)) return undefined;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key === variable) return isAlias(pair.value) ? pair.value.resolve(document) : (pair.value as Node);
    }
    const merged = map.items.find((pair) => isScalar(pair.key) && pair.key.value === '<<')?.value;
    const sources = isSeq(merged) ? merged.items : [merged];
    // Later sources of a merge lose to earlier ones, and the map's own keys (above) to both.
    for (const from of sources) {
      const found = find(from);
      if (found) return found;
    }
    return undefined;
  };
  const offset = find(env)?.range?.[0];
  return offset === undefined ? -1 : source.slice(0, offset).split('\n').length - 1;
}

describe('docker compose up works the first time, on a fresh clone', () => {
  it('passes dclint: the Compose Specification and its rules, no error and no warning', () => {
    // The settings `npx dclint docker-compose.yml` finds by itself; the CLI also checks their rule names.
    const settings = parse(readFileSync(`${root}.config/dclintrc.yaml`, 'utf8')) as { rules: Record<string, unknown> };
    const linter = new DCLinter({ quiet: false, debug: false, exclude: [], rules: settings.rules });
    // dclint's bundled types resolve only partly under NodeNext (extensionless relative imports): spelled out here.
    const [report] = linter.lintFiles([`${root}docker-compose.yml`], false) as {
      errorCount: number;
      warningCount: number;
      messages: { line: number; type: string; rule: string; message: string }[];
    }[];
    const findings = (report?.messages ?? []).map(
      (m) => `docker-compose.yml:${m.line} ${m.type} ${m.message} (${m.rule})`,
    );
    expect(report, 'dclint read docker-compose.yml').toBeDefined();
    expect(report?.errorCount, findings.join('\n')).toBe(0);
    expect(report?.warningCount, findings.join('\n')).toBe(0);
  });

  it('builds a setup step and a server for every service folder, from services/Dockerfile', () => {
    const folders = readdirSync(`${root}services`, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(`${root}services/${entry.name}/src/server.ts`))
      .map((entry) => entry.name)
      .sort();
    for (const { name, service, folder } of built) {
      expect(service.build, name).toMatchObject({ context: '.', dockerfile: 'services/Dockerfile' });
      expect(folders, `${name} builds SERVICE=${folder}`).toContain(folder);
    }
    expect([...new Set(built.filter((b) => b.setup).map((b) => b.folder))].sort(), 'setup steps').toEqual(folders);
    expect([...new Set(built.filter((b) => !b.setup).map((b) => b.folder))].sort(), 'servers').toEqual(folders);
  });

  it('starts a service only once its setup step completed successfully, and never restarts a setup step', () => {
    const problems: string[] = [];
    for (const setup of built.filter((b) => b.setup)) {
      if (![undefined, 'no'].includes(setup.service.restart))
        problems.push(`${setup.name} restarts: ${setup.service.restart}`);
    }
    for (const server of built.filter((b) => !b.setup)) {
      const own = built.find((b) => b.setup && b.folder === server.folder);
      if (own && !dependencies(server.service).has(own.name))
        problems.push(`${server.name} does not wait for ${own.name}`);
    }
    for (const [name, service] of services) {
      for (const [dependency, condition] of dependencies(service)) {
        const isSetup = built.some((b) => b.setup && b.name === dependency);
        if (isSetup && condition !== 'service_completed_successfully') {
          problems.push(`${name} waits for ${dependency} with ${condition ?? 'service_started'}`);
        }
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('waits for health only where there is a health check to wait for', () => {
    const imageHasHealthcheck = /^HEALTHCHECK\s/m.test(readFileSync(`${root}services/Dockerfile`, 'utf8'));
    const checked = (dependency: string) => {
      const own = compose.services[dependency]?.healthcheck;
      if (own) return !own.disable;
      return imageHasHealthcheck && built.some((b) => b.name === dependency);
    };
    const problems: string[] = [];
    for (const [name, service] of services) {
      for (const [dependency, condition] of dependencies(service)) {
        if (condition === 'service_healthy' && !checked(dependency)) {
          problems.push(`${name} waits for ${dependency} to be healthy, which has no health check`);
        }
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('listens where it publishes: the container ports of each service are its PORT and OPS_PORT', () => {
    for (const { name, service } of built.filter((b) => (b.service.ports ?? []).length > 0)) {
      const env = environment(service);
      const targets = (service.ports ?? []).map((port) =>
        typeof port === 'object'
          ? String(port.target)
          : String(port)
              .replace(/\/\w+$/, '')
              .split(':')
              .at(-1),
      );
      expect(targets.sort(), name).toEqual([env.get('PORT'), env.get('OPS_PORT')].sort());
    }
  });

  it('keeps the issuer and the audience identical on every service, as token verification needs', () => {
    const servers = built.filter((b) => !b.setup).map((b) => environment(b.service));
    for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE']) {
      expect(new Set(servers.map((env) => env.get(name))).size, name).toBe(1);
    }
  });
});

describe('every mail of the local stack lands in the mail catcher', () => {
  it("the auth service sends to the compose network's Mailpit, waits for it, and its web UI is published", () => {
    const [catcherName, catcher] = services.find(([, service]) => /(^|\/)mailpit(:|$)/.test(service.image ?? '')) ?? [];
    expect(catcherName, 'a Mailpit service in docker-compose.yml').toBeDefined();
    const auth = built.find(({ folder, setup }) => folder === 'auth' && !setup)?.service;
    const smtp = new URL(environment(auth ?? {}).get('SMTP_URL') ?? 'missing:');
    expect(smtp.protocol).toBe('smtp:');
    expect(smtp.hostname).toBe(catcherName);
    expect(dependencies(auth ?? {}).get(catcherName ?? '')).toBe('service_healthy');
    expect(catcher?.ports ?? []).toContain('127.0.0.1:8025:8025');
  });
});

describe('the local stack is reachable from this machine only, and holds only public development secrets', () => {
  it('publishes every port on 127.0.0.1, never on every interface', () => {
    const published = services.flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => {
        if (typeof port === 'object') return { name, port: JSON.stringify(port), hostIp: port.host_ip };
        // [HOST_IP:]HOST:CONTAINER[/PROTOCOL]; an IPv6 host address is written in brackets.
        const match = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[^\]]+\]):[^:]+:[^:]+$/.exec(String(port));
        return { name, port: String(port), hostIp: match?.[1] };
      }),
    );
    expect(published.length, 'the APIs and ops ports are published').toBeGreaterThan(0);
    const open = published.filter((p) => p.hostIp !== '127.0.0.1').map((p) => `${p.name}: ${p.port}`);
    expect(open, 'published beyond 127.0.0.1').toEqual([]);
  });

  it('carries no secret but the documented local-only fallbacks, and builds no secret into an image', () => {
    // The public development secrets this file may hold. Each must say, on its line or in the comment just above
    // it (or above the anchor it comes from), that it is for local development only.
    const localOnly = new Set([
      'POSTGRES_PASSWORD', // the postgres service's password, reachable inside the compose network only
      'DATABASE_URL', // which carries that password
      'NATS_ADMIN_PASSWORD',
      'NATS_AUTH_PASSWORD',
      'NATS_TODO_PASSWORD',
      'NATS_PASSWORD', // the same three, as each NATS client reads its own
      'AUTH_KEK', // the development key-encryption key; npm start writes a random one into .env instead
    ]);
    const secretName = /PASSWORD|PASSWD|SECRET|TOKEN|KEK|CREDENTIAL|API_?KEY|PRIVATE_KEY/i;
    const credentialsInUrl = /:\/\/[^/\s:@]+:[^/\s@]+@/;
    const lines = source.split('\n');
    const documented = (service: string, variable: string) => {
      let i = definitionLine(service, variable);
      if (i < 0) return false;
      if (/#.*local development only/i.test(lines[i] ?? '')) return true;
      // Up over sibling definitions to the comment block that introduces them.
      while (i > 0 && (lines[i - 1] ?? '').trim() !== '' && !(lines[i - 1] ?? '').trim().startsWith('#')) i--;
      const block: string[] = [];
      while (i > 0 && (lines[i - 1] ?? '').trim().startsWith('#')) block.push(lines[--i] ?? '');
      return /local development only/i.test(block.join(' '));
    };
    const problems: string[] = [];
    for (const [name, service] of services) {
      for (const [variable, text] of rawEnvironment(service)) {
        if (withDefaults(text) === '' || /_FILE$/.test(variable)) continue;
        if (!secretName.test(variable) && !credentialsInUrl.test(text)) continue;
        if (!localOnly.has(variable)) problems.push(`${name}: ${variable} holds a secret`);
        else if (!documented(name, variable))
          problems.push(`${name}: ${variable} is not marked "local development only"`);
      }
      if (typeof service.build === 'object') {
        const args = Array.isArray(service.build.args) ? service.build.args : Object.keys(service.build.args ?? {});
        for (const arg of args.filter((a) => secretName.test(a))) problems.push(`${name}: build arg ${arg}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { services } from '../src/start-stack.ts';
import {
  containers,
  type K8sObject,
  k8sDir,
  ofKind,
  overlays,
  podTemplate,
  render,
  repoRoot,
  type Workload,
  workloads,
} from './manifests.ts';

const configMap = (objects: K8sObject[], name: string) => {
  const found = ofKind(objects, ConfigMap.is).find((c) => c.metadata?.name === name);
  if (!found) throw new Error(`no ConfigMap ${name}`);
  return found.data ?? {};
};

/** Every Secret a workload's containers read, by name (envFrom and secretKeyRef). */
function secretsReadBy(workload: Workload): string[] {
  const names = containers(workload).flatMap(({ container }) => [
    ...(container.envFrom ?? []).flatMap((source) => (source.secretRef?.name ? [source.secretRef.name] : [])),
    ...(container.env ?? []).flatMap((variable) => variable.valueFrom?.secretKeyRef?.name ?? []),
  ]);
  const volumes = (podTemplate(workload).spec?.volumes ?? []).flatMap((volume) => volume.secret?.secretName ?? []);
  return [...new Set([...names, ...volumes])].sort();
}

describe.each(overlays)('what each workload of k8s/overlays/%s is told', (overlay) => {
  const objects = () => render(overlay);

  it('gives the migration Jobs the services’ DATABASE_STATEMENT_TIMEOUT_MS, from platform-config, overridden nowhere', () => {
    const timeout = configMap(objects(), 'platform-config').DATABASE_STATEMENT_TIMEOUT_MS;
    expect(Number(timeout)).toBeGreaterThan(0);
    const otherMaps = ofKind(objects(), ConfigMap.is).filter(
      (c) => c.metadata?.name !== 'platform-config' && 'DATABASE_STATEMENT_TIMEOUT_MS' in (c.data ?? {}),
    );
    expect(otherMaps.map((c) => c.metadata?.name)).toEqual([]);
    for (const workload of workloads(objects())) {
      for (const { container } of containers(workload)) {
        const names = (container.env ?? []).map((variable) => variable.name);
        expect
          .soft(names, `${workload.kind}/${workload.metadata?.name} ${container.name}`)
          .not.toContain('DATABASE_STATEMENT_TIMEOUT_MS');
      }
    }
    for (const job of ofKind(objects(), Job.is)) {
      const sources = job.spec?.template.spec?.containers[0]?.envFrom?.map((s) => s.configMapRef?.name);
      expect.soft(sources, `Job/${job.metadata?.name}`).toEqual(['platform-config', 'migration-config']);
    }
    for (const deployment of ofKind(objects(), Deployment.is)) {
      const sources = deployment.spec?.template.spec?.containers[0]?.envFrom?.map(
        (s) => s.configMapRef?.name ?? s.secretRef?.name,
      );
      expect.soft(sources?.[0], `Deployment/${deployment.metadata?.name}`).toBe('platform-config');
    }
  });

  it('runs the setup step with the service’s own URL, the direct URL from a Secret of its own and the NATS admin user, and nothing else secret', () => {
    expect(configMap(objects(), 'migration-config')).toEqual({
      MIGRATION_LOCK_TIMEOUT_MS: expect.stringMatching(/^\d+$/),
      NATS_STREAM_REPLICAS: expect.stringMatching(/^[1-5]$/),
    });
    for (const job of ofKind(objects(), Job.is)) {
      const service = job.metadata?.name?.replace(/-migrate$/, '');
      const [container, ...others] = job.spec?.template.spec?.containers ?? [];
      expect(others).toEqual([]);
      expect(container?.command).toEqual(['node', 'migrate.ts']);
      expect(container?.image).toBe(
        ofKind(objects(), Deployment.is).find((d) => d.metadata?.name === service)?.spec?.template.spec?.containers[0]
          ?.image,
      );
      expect(container?.envFrom?.filter((source) => source.secretRef) ?? []).toEqual([]);
      const env = Object.fromEntries((container?.env ?? []).map((v) => [v.name, v.value ?? v.valueFrom?.secretKeyRef]));
      expect(env).toEqual({
        DATABASE_URL: { name: `${service}-secrets`, key: 'DATABASE_URL' },
        DATABASE_DIRECT_URL: { name: `${service}-migration`, key: 'DATABASE_DIRECT_URL' },
        NATS_USER: 'admin',
        NATS_PASSWORD: { name: 'nats-admin', key: 'NATS_PASSWORD' },
      });
      expect(job.metadata?.annotations).toMatchObject({
        'argocd.argoproj.io/hook': 'PreSync',
        'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      });
    }
  });

  it('keeps the migration Secrets and the NATS admin password away from the running services', () => {
    for (const deployment of ofKind(objects(), Deployment.is)) {
      const service = deployment.metadata?.name;
      expect(secretsReadBy(deployment), `Deployment/${service}`).toEqual([`${service}-secrets`]);
    }
  });
});

describe('the production overlay (k8s/overlays/neon)', () => {
  const objects = () => render('neon');
  const examples = () =>
    parseAllDocuments(readFileSync(join(k8sDir, 'overlays/neon/secrets.example.yaml'), 'utf8')).map(
      (document) => document.toJS() as { metadata: { name: string }; stringData: Record<string, string> },
    );
  const example = (name: string) => examples().find((secret) => secret.metadata.name === name)?.stringData ?? {};

  it('ships no Secret: each is created out of band, and secrets.example.yaml documents exactly the ones the workloads and the Gateway read', () => {
    expect(ofKind(objects(), Secret.is).map((s) => s.metadata?.name)).toEqual([]);
    const kustomization = readFileSync(join(k8sDir, 'overlays/neon/kustomization.yaml'), 'utf8');
    expect(kustomization).not.toMatch(/^\s*-\s*secrets\.example\.yaml/m);
    const read = [...new Set(workloads(objects()).flatMap(secretsReadBy))].sort();
    expect(
      examples()
        .map((secret) => secret.metadata.name)
        .sort(),
    ).toEqual(read);
    const certificates = ofKind(objects(), Gateway.is)
      .flatMap((g) => g.spec?.listeners ?? [])
      .flatMap((l) => l.tls?.certificateRefs ?? []);
    expect(certificates).toEqual([{ kind: 'Secret', group: '', name: 'api-tls' }]);
  });

  it('connects to Neon with sslmode=verify-full: the services through the -pooler endpoint, the migrations on the direct one, the same role', () => {
    for (const service of services()) {
      const pooled = new URL(example(`${service}-secrets`).DATABASE_URL ?? '');
      const direct = new URL(example(`${service}-migration`).DATABASE_DIRECT_URL ?? '');
      for (const url of [pooled, direct]) expect(url.searchParams.get('sslmode'), url.host).toBe('verify-full');
      expect(pooled.hostname.split('.')[0]).toMatch(/-pooler$/);
      expect(direct.hostname).toBe(pooled.hostname.replace('-pooler.', '.'));
      expect(direct.username).toBe(pooled.username);
      expect(direct.pathname).toBe(pooled.pathname);
    }
    expect(configMap(objects(), 'platform-config')).not.toHaveProperty('DATABASE_CA_FILE');
  });

  it('serves the API over HTTPS on the issuer’s host, with a referenced certificate, and plain HTTP only as a redirect', () => {
    const [gateway, ...others] = ofKind(objects(), Gateway.is);
    expect(others).toEqual([]);
    const issuer = new URL(configMap(objects(), 'platform-config').JWT_ISSUER ?? '');
    expect(issuer.protocol).toBe('https:');
    const listeners = Object.fromEntries((gateway?.spec?.listeners ?? []).map((l) => [l.name, l]));
    expect(listeners.https).toMatchObject({
      protocol: 'HTTPS',
      port: 443,
      hostname: issuer.host,
      tls: { mode: 'Terminate' },
    });
    expect(listeners.http).toMatchObject({ protocol: 'HTTP', port: 80, hostname: issuer.host });
    const routes = ofKind(objects(), HTTPRoute.is);
    const attached = (section: string) =>
      routes
        .filter((r) => r.spec?.parentRefs?.some((p) => p.name === 'api' && p.sectionName === section))
        .map((r) => r.metadata?.name);
    expect(attached('https')).toEqual(['api']);
    expect(attached('http')).toEqual(['https-redirect']);
    expect(routes.find((r) => r.metadata?.name === 'https-redirect')?.spec?.rules).toEqual([
      { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] },
    ]);
    expect(routes.every((r) => r.spec?.parentRefs?.every((p) => p.sectionName))).toBe(true);
  });
});

describe('the local overlay (k8s/overlays/local)', () => {
  const objects = () => render('local');
  const secret = (prefix: string) => {
    const found = ofKind(objects(), Secret.is).find(
      (s) => s.metadata?.name === prefix || s.metadata?.name?.startsWith(`${prefix}-`),
    );
    if (!found) throw new Error(`no Secret ${prefix}`);
    return Object.fromEntries(
      Object.entries(found.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
    );
  };

  it('runs NATS with a byte-for-byte copy of .config/nats/nats-server.conf: the users and permissions of compose and the tests', () => {
    const copy = readFileSync(join(k8sDir, 'overlays/local/nats-server.conf'));
    const original = readFileSync(join(repoRoot, '.config/nats/nats-server.conf'));
    expect(
      copy.equals(original),
      'k8s/overlays/local/nats-server.conf differs: cp .config/nats/nats-server.conf k8s/overlays/local/',
    ).toBe(true);
    const mounted = ofKind(objects(), ConfigMap.is).find((c) => c.metadata?.name?.startsWith('nats-config-'));
    expect(mounted?.data?.['nats-server.conf']).toBe(original.toString('utf8'));
  });

  it('hands every client the password its server expects', () => {
    const nats = secret('nats-users');
    expect(secret('auth-secrets').NATS_PASSWORD).toBe(nats.NATS_AUTH_PASSWORD);
    expect(secret('todo-secrets').NATS_PASSWORD).toBe(nats.NATS_TODO_PASSWORD);
    expect(secret('nats-admin').NATS_PASSWORD).toBe(nats.NATS_ADMIN_PASSWORD);
    for (const password of Object.values(nats)) expect(password).toMatch(/^[a-z][0-9a-f]+$/);
    const postgres = secret('postgres').POSTGRES_PASSWORD;
    const urls = [
      secret('auth-secrets').DATABASE_URL,
      secret('todo-secrets').DATABASE_URL,
      secret('auth-migration').DATABASE_DIRECT_URL,
      secret('todo-migration').DATABASE_DIRECT_URL,
    ].map((url) => new URL(url ?? ''));
    for (const url of urls) {
      expect(url.password).toBe(postgres);
      expect(`${url.hostname}:${url.port}${url.pathname}`).toBe('postgres:5432/todo_platform');
    }
    expect(Buffer.from(secret('auth-secrets').AUTH_KEK ?? '', 'base64')).toHaveLength(32);
  });

  it('points the services at the in-cluster NATS and serves plain HTTP on the issuer the port-forward reaches', () => {
    const config = configMap(objects(), 'platform-config');
    expect(config.NATS_URL).toBe('nats://nats:4222');
    expect(config.JWT_ISSUER).toBe('http://localhost:8080');
    expect(configMap(objects(), 'migration-config').NATS_STREAM_REPLICAS).toBe('1');
    const [gateway] = ofKind(objects(), Gateway.is);
    expect(gateway?.spec?.listeners).toEqual([
      { name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'Same' } } },
    ]);
  });
});

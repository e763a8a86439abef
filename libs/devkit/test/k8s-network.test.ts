import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { services } from '../src/start-stack.ts';
import { k8sDir, ofKind, overlays, podTemplate, render, type TrafficRule, traffic, workloads } from './manifests.ts';

/** The namespaces an overlay's cluster-settings.yaml names (written into the policies by a replacement). */
function clusterSettings(overlay: string): Record<string, string> {
  const file = parse(readFileSync(join(k8sDir, 'overlays', overlay, 'cluster-settings.yaml'), 'utf8')) as {
    data: Record<string, string>;
  };
  return file.data;
}

const ports = (rules: TrafficRule[]) => [...new Set(rules.flatMap((rule) => rule.ports))].sort();
const rulesFor = (rules: TrafficRule[], port: string) => rules.filter((rule) => rule.ports.includes(port as never));
const namespaceOf = (peer: TrafficRule['peers'][number]) =>
  peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];

/** The pods of the overlay, by a readable name, with their labels. */
function pods(overlay: string) {
  return workloads(render(overlay)).map((workload) => ({
    name: `${workload.kind}/${workload.metadata?.name}`,
    namespace: workload.metadata?.namespace ?? '',
    labels: podTemplate(workload).metadata?.labels ?? {},
  }));
}

const pod = (overlay: string, name: string) => {
  const found = pods(overlay).find((p) => p.name === name);
  if (!found) throw new Error(`no ${name} in ${overlay}`);
  return found;
};

describe.each(overlays)('traffic in k8s/overlays/%s', (overlay) => {
  const policies = () => ofKind(render(overlay), NetworkPolicy.is);
  const settings = () => clusterSettings(overlay);

  it('is denied both ways for every pod unless a policy allows it', () => {
    for (const p of pods(overlay)) {
      expect.soft(traffic(policies(), p, 'ingress').isolated, `${p.name} ingress`).toBe(true);
      expect.soft(traffic(policies(), p, 'egress').isolated, `${p.name} egress`).toBe(true);
    }
    const defaultDeny = policies().find((p) => p.metadata?.name === 'default-deny');
    expect(defaultDeny?.spec?.podSelector).toEqual({});
    expect(defaultDeny?.spec?.policyTypes?.sort()).toEqual(['Egress', 'Ingress']);
  });

  it('opens no rule to every port or to every peer', () => {
    for (const p of pods(overlay)) {
      for (const direction of ['ingress', 'egress'] as const) {
        for (const rule of traffic(policies(), p, direction).rules) {
          expect
            .soft(
              rule.ports.some((port) => port.endsWith('/*')),
              `${p.name} ${direction} ${rule.policy}: all ports`,
            )
            .toBe(false);
          expect.soft(rule.peers.length, `${p.name} ${direction} ${rule.policy}: every peer`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('lets the services and the migration Jobs reach DNS, the database and NATS, auth its SMTP server and todo the auth service, nothing else', () => {
    // SMTP from auth only: the local overlay's Mailpit (1025), elsewhere submission (587) or implicit TLS (465).
    const smtp = overlay === 'local' ? ['TCP/1025'] : ['TCP/465', 'TCP/587'];
    const expected: Record<string, string[]> = {
      'Deployment/auth': ['TCP/4222', 'TCP/53', 'TCP/5432', 'UDP/53', ...smtp].sort(),
      'Deployment/todo': ['TCP/3001', 'TCP/4222', 'TCP/53', 'TCP/5432', 'UDP/53'],
      'Job/auth-migrate': ['TCP/4222', 'TCP/53', 'TCP/5432', 'UDP/53'],
      'Job/todo-migrate': ['TCP/4222', 'TCP/53', 'TCP/5432', 'UDP/53'],
    };
    for (const [name, allowed] of Object.entries(expected)) {
      expect.soft(ports(traffic(policies(), pod(overlay, name), 'egress').rules), name).toEqual(allowed);
    }
    // DNS only from the cluster's DNS pods.
    for (const rule of rulesFor(traffic(policies(), pod(overlay, 'Deployment/auth'), 'egress').rules, 'UDP/53')) {
      expect(rule.peers).toEqual([
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ]);
    }
    // todo reaches the auth pods' API port, no other pod.
    const toAuth = rulesFor(traffic(policies(), pod(overlay, 'Deployment/todo'), 'egress').rules, 'TCP/3001');
    expect(toAuth.flatMap((rule) => rule.peers)).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'auth', 'app.kubernetes.io/component': 'api' } } },
    ]);
  });

  it('admits the gateway to the API ports and Prometheus to the ops ports, each from the namespace in cluster-settings.yaml', () => {
    for (const [name, api, ops] of [
      ['Deployment/auth', 'TCP/3001', 'TCP/9001'],
      ['Deployment/todo', 'TCP/3002', 'TCP/9002'],
    ] as const) {
      const { rules } = traffic(policies(), pod(overlay, name), 'ingress');
      const apiFrom = rulesFor(rules, api).flatMap((rule) => rule.peers);
      expect
        .soft(apiFrom.filter(namespaceOf).map(namespaceOf), `${name} ${api}`)
        .toEqual([settings().gatewayNamespace]);
      const opsFrom = rulesFor(rules, ops).flatMap((rule) => rule.peers);
      expect.soft(opsFrom.map(namespaceOf), `${name} ${ops}`).toEqual([settings().monitoringNamespace]);
      expect
        .soft(settings().gatewayNamespace, 'the gateway is not where Prometheus runs')
        .not.toBe(settings().monitoringNamespace);
    }
    // auth's API port also from the todo pods (the JWKS); nothing else in the namespace.
    const authApi = rulesFor(traffic(policies(), pod(overlay, 'Deployment/auth'), 'ingress').rules, 'TCP/3001');
    expect(authApi.flatMap((rule) => rule.peers).filter((peer) => !namespaceOf(peer))).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'todo', 'app.kubernetes.io/component': 'api' } } },
    ]);
    // Nothing left for an overlay to fill in.
    expect(JSON.stringify(policies())).not.toContain('set-by-overlay');
  });

  it('admits nothing into the migration Jobs’ pods', () => {
    for (const name of services().map((service) => `Job/${service}-migrate`)) {
      expect.soft(traffic(policies(), pod(overlay, name), 'ingress').rules, name).toEqual([]);
    }
  });
});

describe.each(overlays)('the public routes of k8s/overlays/%s', (overlay) => {
  it('send /auth, /oauth and /.well-known to auth and /todos to todo, on the Services’ http ports only', () => {
    const objects = render(overlay);
    const services = ofKind(objects, Service.is);
    const route = ofKind(objects, HTTPRoute.is).find((r) => r.metadata?.name === 'api');
    const routed = (route?.spec?.rules ?? []).flatMap((rule) =>
      (rule.matches ?? []).map((match) => ({
        path: `${match.path?.type} ${match.path?.value}`,
        backends: (rule.backendRefs ?? []).map((ref) => {
          const port = services
            .find((service) => service.metadata?.name === ref.name)
            ?.spec?.ports?.find((p) => p.port === ref.port);
          return `${ref.name}:${port?.name}`;
        }),
      })),
    );
    expect(routed).toEqual([
      { path: 'PathPrefix /auth', backends: ['auth:http'] },
      { path: 'PathPrefix /oauth', backends: ['auth:http'] },
      { path: 'PathPrefix /.well-known', backends: ['auth:http'] },
      { path: 'PathPrefix /todos', backends: ['todo:http'] },
    ]);
  });

  it('never route to an ops port', () => {
    const objects = render(overlay);
    const opsPorts = ofKind(objects, Service.is).flatMap((service) =>
      (service.spec?.ports ?? []).filter((p) => p.name === 'ops').map((p) => `${service.metadata?.name}:${p.port}`),
    );
    expect(opsPorts.length).toBeGreaterThan(0);
    const backends = ofKind(objects, HTTPRoute.is)
      .flatMap((route) => (route.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? []))
      .map((ref) => `${ref.name}:${ref.port}`);
    expect(backends.filter((backend) => opsPorts.includes(backend))).toEqual([]);
  });
});

describe('the production overlay (k8s/overlays/neon) on the network', () => {
  const policies = () => ofKind(render('neon'), NetworkPolicy.is);

  it('reaches Neon on 5432 outside the cluster, and no PostgreSQL in a private range', () => {
    const rules = rulesFor(traffic(policies(), pod('neon', 'Deployment/auth'), 'egress').rules, 'TCP/5432');
    const blocks = rules.flatMap((rule) => rule.peers.map((peer) => peer.ipBlock));
    expect(blocks).toEqual([
      {
        cidr: '0.0.0.0/0',
        except: expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']),
      },
      { cidr: '::/0', except: expect.arrayContaining(['fc00::/7', 'fe80::/10']) },
    ]);
  });

  it('reaches NATS in namespace nats, the Helm chart’s', () => {
    const rules = rulesFor(traffic(policies(), pod('neon', 'Job/auth-migrate'), 'egress').rules, 'TCP/4222');
    expect(rules.flatMap((rule) => rule.peers).map(namespaceOf)).toEqual(['nats']);
  });
});

describe('the local overlay (k8s/overlays/local) on the network', () => {
  const policies = () => ofKind(render('local'), NetworkPolicy.is);

  it('reaches its own PostgreSQL and NATS pods, which admit the platform’s pods only and reach out nowhere but DNS', () => {
    const egress = traffic(policies(), pod('local', 'Job/todo-migrate'), 'egress').rules;
    expect(rulesFor(egress, 'TCP/5432').flatMap((rule) => rule.peers)).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' } } },
    ]);
    expect(rulesFor(egress, 'TCP/4222').flatMap((rule) => rule.peers)).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } } },
    ]);
    for (const [name, port] of [
      ['StatefulSet/postgres', 'TCP/5432'],
      ['StatefulSet/nats', 'TCP/4222'],
    ] as const) {
      const ingress = traffic(policies(), pod('local', name), 'ingress').rules;
      expect(ports(ingress), name).toEqual([port]);
      expect(
        ingress.flatMap((rule) => rule.peers),
        name,
      ).toEqual([
        {
          podSelector: {
            matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api', 'migration'] }],
          },
        },
      ]);
      expect(ports(traffic(policies(), pod('local', name), 'egress').rules), name).toEqual(['TCP/53', 'UDP/53']);
    }
  });
});

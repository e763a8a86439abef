import { describe, expect, it } from 'vitest';
import { describeObject, type K8sObject, modelFor, overlays, render, validate } from './manifests.ts';

describe('the Kubernetes overlays, rendered as the cluster would receive them', () => {
  it('are there to render: a local one and a production one on Neon', () => {
    expect(overlays).toEqual(expect.arrayContaining(['local', 'neon']));
  });

  describe.each(overlays)('k8s/overlays/%s', (overlay) => {
    it('renders with kubectl kustomize into objects that each pass the schema of their kind', () => {
      const objects = render(overlay);
      expect(objects.length).toBeGreaterThan(0);
      const failures = objects.flatMap((object) => {
        try {
          validate(object);
          return [];
        } catch (error) {
          return [(error as Error).message];
        }
      });
      expect(failures).toEqual([]);
    });

    it('puts every namespaced object into todo-platform and ships the namespace itself', () => {
      const objects = render(overlay);
      const elsewhere = objects
        .filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== 'todo-platform')
        .map(describeObject);
      expect(elsewhere).toEqual([]);
      expect(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual(['todo-platform']);
    });

    it('ships no Ingress and no ingress-nginx annotation: the way in is Gateway API', () => {
      const objects = render(overlay);
      expect(objects.filter((o) => o.kind === 'Ingress').map(describeObject)).toEqual([]);
      const nginx = objects.filter((o) =>
        Object.keys(o.metadata.annotations ?? {}).some((key) => key.startsWith('nginx.ingress.kubernetes.io/')),
      );
      expect(nginx.map(describeObject)).toEqual([]);
    });
  });
});

describe('the schema check', () => {
  const deployment: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'broken' },
    spec: { selector: { matchLabels: { app: 'x' } }, template: { spec: { containers: [{ name: 'x' }] } } },
  };

  it('accepts a well-formed object', () => {
    expect(() => validate(deployment)).not.toThrow();
  });

  it('rejects an object whose field has the wrong type, naming the object and the field', () => {
    const broken = { ...deployment, spec: { ...(deployment.spec as object), replicas: 'two' } };
    expect(() => validate(broken)).toThrow(/Deployment\/broken .*replicas/);
  });

  it('refuses an object of a kind it has no schema for, instead of skipping it', () => {
    const unknown: K8sObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(() => validate(unknown)).toThrow(/no schema for example.com\/v1 Widget/);
    expect(() => modelFor('apps/v1', 'Deploymnet')).toThrow(/no schema/);
  });

  it('knows the Gateway API kinds the overlays use', () => {
    expect(modelFor('gateway.networking.k8s.io/v1', 'HTTPRoute').kind).toBe('HTTPRoute');
    expect(modelFor('gateway.networking.k8s.io/v1', 'Gateway').kind).toBe('Gateway');
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { services } from '../src/start-stack.ts';
import {
  containers,
  k8sDir,
  ofKind,
  overlays,
  podTemplate,
  readJson,
  render,
  selects,
  type Workload,
  workloads,
} from './manifests.ts';

/** Idle RSS of each service in MiB, from the bench run bench/README.md reports (bench/results/latest.json). */
function measuredIdleRssMib(service: string): number {
  const results = readJson('bench/results/latest.json') as { rssMb?: { idle?: Record<string, unknown> } };
  const rss = results.rssMb?.idle?.[service];
  if (typeof rss !== 'number') throw new Error(`bench/results/latest.json has no idle RSS for ${service}`);
  return rss;
}

/**
 * Peak RSS in MiB of the short-lived containers, which spend their whole life near it: `node migrate.ts` and
 * `node migrate.ts wait` under /usr/bin/time against a local PostgreSQL and NATS (Node 24.21; the comments of
 * k8s/base/migrate-jobs.yaml and auth.yaml say the same).
 */
const measuredPeakRssMib = { migrate: { auth: 155, todo: 149 }, wait: 142 } as const;

const name = (workload: Workload) => `${workload.kind}/${workload.metadata?.name}`;
const labelsOf = (workload: Workload) => podTemplate(workload).metadata?.labels ?? {};
const isApi = (workload: Workload) =>
  Deployment.is(workload) && labelsOf(workload)['app.kubernetes.io/component'] === 'api';

/** A Kubernetes quantity of memory in MiB ("256Mi", "1Gi", "512M", "134217728"). */
function mebibytes(quantity: string | number | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(quantity ?? ''));
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  const factor = { Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1e3 / 2 ** 20, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20 };
  return Number(match[1]) * (match[2] ? factor[match[2] as keyof typeof factor] : 1 / 2 ** 20);
}

describe.each(overlays)('every workload of k8s/overlays/%s', (overlay) => {
  const objects = () => render(overlay);

  it('runs its pods as the restricted Pod Security Standard demands: non-root with a numeric uid, RuntimeDefault seccomp, no service account token', () => {
    for (const workload of workloads(objects())) {
      const spec = podTemplate(workload).spec;
      expect.soft(spec?.securityContext?.runAsNonRoot, name(workload)).toBe(true);
      expect.soft(spec?.securityContext?.runAsUser, name(workload)).toEqual(expect.any(Number));
      expect.soft(spec?.securityContext?.runAsUser, name(workload)).toBeGreaterThan(0);
      expect.soft(spec?.securityContext?.seccompProfile?.type, name(workload)).toBe('RuntimeDefault');
      expect.soft(spec?.automountServiceAccountToken, name(workload)).toBe(false);
    }
  });

  it('runs every container, init containers too, without privilege escalation, on a read-only root filesystem, with every capability dropped', () => {
    for (const workload of workloads(objects())) {
      for (const { container } of containers(workload)) {
        const where = `${name(workload)} container ${container.name}`;
        expect.soft(container.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect.soft(container.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect.soft(container.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect.soft(container.securityContext?.capabilities?.add ?? [], where).toEqual([]);
        expect.soft(container.securityContext?.privileged ?? false, where).toBe(false);
      }
    }
  });

  it('gives every container CPU and memory requests and limits', () => {
    for (const workload of workloads(objects())) {
      for (const { container } of containers(workload)) {
        const where = `${name(workload)} container ${container.name}`;
        const { requests = {}, limits = {} } = container.resources ?? {};
        expect.soft(Object.keys(requests).sort(), where).toEqual(['cpu', 'memory']);
        expect.soft(Object.keys(limits).sort(), where).toEqual(['cpu', 'memory']);
        if (requests.memory !== undefined && limits.memory !== undefined) {
          expect.soft(mebibytes(limits.memory), where).toBeGreaterThanOrEqual(mebibytes(requests.memory));
        }
      }
    }
  });

  it('requests more memory than the services, their schema wait and the migrations were measured to use', () => {
    const checked: string[] = [];
    for (const workload of workloads(objects())) {
      const service = labelsOf(workload)['app.kubernetes.io/name']?.replace(/-migrate$/, '') ?? '';
      for (const { container, init } of containers(workload)) {
        const requested = mebibytes(container.resources?.requests?.memory);
        const where = `${name(workload)} container ${container.name}`;
        if (isApi(workload) && !init) {
          expect.soft(requested, `${where} (idle RSS of ${service})`).toBeGreaterThan(measuredIdleRssMib(service));
        } else if (isApi(workload) && container.name === 'wait-for-schema') {
          expect.soft(requested, `${where} (peak RSS of the wait)`).toBeGreaterThan(measuredPeakRssMib.wait);
        } else if (Job.is(workload) && (service === 'auth' || service === 'todo')) {
          expect
            .soft(requested, `${where} (peak RSS of the setup step)`)
            .toBeGreaterThan(measuredPeakRssMib.migrate[service]);
        } else {
          continue;
        }
        checked.push(where);
      }
    }
    // Every service: its API container, its init container and its migration Job.
    expect(checked).toHaveLength(3 * services().length);
  });

  it('probes each API container on its ops port, never on the port the gateway routes to', () => {
    const apis = workloads(objects()).filter(isApi);
    expect(apis.map(name).sort()).toEqual(services().map((service) => `Deployment/${service}`));
    for (const workload of apis) {
      for (const { container, init } of containers(workload)) {
        if (init) continue;
        const ops = container.ports?.find((port) => port.name === 'ops');
        expect(ops, `${name(workload)} has an ops port`).toBeDefined();
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
          const port = container[probe]?.httpGet?.port;
          expect.soft(port === 'ops' || port === ops?.containerPort, `${name(workload)} ${probe} on ops`).toBe(true);
        }
        expect.soft(container.readinessProbe?.httpGet?.path, name(workload)).toBe('/readyz');
      }
    }
  });

  it('leaves the replica count of every Deployment to the HPA that targets it', () => {
    const hpas = ofKind(objects(), HorizontalPodAutoscaler.is);
    for (const deployment of ofKind(objects(), Deployment.is)) {
      const targeted = hpas.some(
        (hpa) =>
          hpa.spec?.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === deployment.metadata?.name,
      );
      expect.soft(targeted, `an HPA targets Deployment/${deployment.metadata?.name}`).toBe(true);
      expect
        .soft(deployment.spec?.replicas, `Deployment/${deployment.metadata?.name} sets no replicas`)
        .toBeUndefined();
    }
  });

  it('keeps the migration Jobs’ pods out of every Deployment, StatefulSet, PodDisruptionBudget, HPA and Service selector', () => {
    const deployments = ofKind(objects(), Deployment.is);
    const selectors = [
      ...deployments.map((d) => ({ by: `Deployment/${d.metadata?.name}`, selector: d.spec?.selector })),
      ...ofKind(objects(), StatefulSet.is).map((s) => ({
        by: `StatefulSet/${s.metadata?.name}`,
        selector: s.spec?.selector,
      })),
      ...ofKind(objects(), PodDisruptionBudget.is).map((p) => ({
        by: `PodDisruptionBudget/${p.metadata?.name}`,
        selector: p.spec?.selector,
      })),
      ...ofKind(objects(), HorizontalPodAutoscaler.is).map((h) => ({
        by: `HorizontalPodAutoscaler/${h.metadata?.name}`,
        selector: deployments.find((d) => d.metadata?.name === h.spec?.scaleTargetRef.name)?.spec?.selector,
      })),
      ...ofKind(objects(), Service.is).map((s) => ({
        by: `Service/${s.metadata?.name}`,
        selector: { matchLabels: s.spec?.selector ?? {} },
      })),
    ];
    const jobs = ofKind(objects(), Job.is);
    expect(jobs.map((j) => j.metadata?.name).sort()).toEqual(services().map((service) => `${service}-migrate`));
    for (const job of jobs) {
      const labels = labelsOf(job);
      expect(labels['app.kubernetes.io/component'], name(job)).toBe('migration');
      const matching = selectors.filter(
        ({ selector }) => selector && Object.keys(selector).length > 0 && selects(selector, labels),
      );
      expect(
        matching.map(({ by }) => by),
        `selectors matching the pods of ${name(job)}`,
      ).toEqual([]);
    }
  });

  it('pins every image by digest, or names it in the overlay’s images: so the release step sets it', () => {
    const kustomization = parse(readFileSync(join(k8sDir, 'overlays', overlay, 'kustomization.yaml'), 'utf8')) as {
      images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
    };
    const setByOverlay = new Set((kustomization.images ?? []).map((image) => image.newName ?? image.name));
    for (const workload of workloads(objects())) {
      for (const { container } of containers(workload)) {
        const image = container.image ?? '';
        const repository = image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[\w.-]+$/, '');
        const pinned = /@sha256:[0-9a-f]{64}$/.test(image);
        expect.soft(pinned || setByOverlay.has(repository), `${name(workload)} ${container.name}: ${image}`).toBe(true);
      }
    }
  });

  it('holds each new API pod in a wait-for-schema init container, same image, until the migrations of that image ran', () => {
    for (const workload of workloads(objects()).filter(isApi)) {
      const spec = podTemplate(workload).spec;
      const service = labelsOf(workload)['app.kubernetes.io/name'];
      const [wait, ...others] = spec?.initContainers ?? [];
      expect(others, name(workload)).toEqual([]);
      expect(wait?.name, name(workload)).toBe('wait-for-schema');
      expect(wait?.image, name(workload)).toBe(spec?.containers[0]?.image);
      expect(wait?.command, name(workload)).toEqual(['node', 'migrate.ts', 'wait']);
      // Its own database URL only: no Secret handed over whole (the auth Secret holds AUTH_KEK).
      expect(wait?.envFrom?.filter((source) => source.secretRef) ?? [], name(workload)).toEqual([]);
      const secretEnv = (wait?.env ?? []).filter((variable) => variable.valueFrom?.secretKeyRef);
      expect(secretEnv, name(workload)).toEqual([
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: `${service}-secrets`, key: 'DATABASE_URL' } } },
      ]);
    }
  });

  it('rolls a Deployment out without losing capacity, and gives up on a stuck rollout only after the migration Job has given up', () => {
    const jobDeadline = Math.max(
      ...ofKind(objects(), Job.is).map((job) => job.spec?.activeDeadlineSeconds ?? Infinity),
    );
    expect(jobDeadline).toBeLessThan(Infinity);
    for (const deployment of ofKind(objects(), Deployment.is)) {
      const where = `Deployment/${deployment.metadata?.name}`;
      expect.soft(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable, where).toBe(0);
      expect.soft(deployment.spec?.minReadySeconds, where).toBeGreaterThan(0);
      expect.soft(deployment.spec?.progressDeadlineSeconds, where).toBeGreaterThan(jobDeadline);
    }
  });

  it('lets a node drain evict pods that are not ready, whatever the budget says', () => {
    const budgets = ofKind(objects(), PodDisruptionBudget.is);
    expect(budgets.map((b) => b.metadata?.name).sort()).toEqual(services());
    for (const budget of budgets) {
      expect
        .soft(budget.spec?.unhealthyPodEvictionPolicy, `PodDisruptionBudget/${budget.metadata?.name}`)
        .toBe('AlwaysAllow');
    }
  });
});

describe('the production overlay (k8s/overlays/neon)', () => {
  it('never puts two replicas of a revision on one node while another could take it, and spreads across zones where it can', () => {
    for (const deployment of ofKind(render('neon'), Deployment.is)) {
      const constraints = deployment.spec?.template.spec?.topologySpreadConstraints ?? [];
      const where = `Deployment/${deployment.metadata?.name}`;
      const byNode = constraints.find((c) => c.topologyKey === 'kubernetes.io/hostname');
      const byZone = constraints.find((c) => c.topologyKey === 'topology.kubernetes.io/zone');
      expect.soft(byNode?.whenUnsatisfiable, where).toBe('DoNotSchedule');
      expect.soft(byNode?.maxSkew, where).toBe(1);
      expect.soft(byNode?.matchLabelKeys, where).toContain('pod-template-hash');
      expect.soft(byZone?.whenUnsatisfiable, where).toBe('ScheduleAnyway');
      expect.soft(selects(byNode?.labelSelector, deployment.spec?.template.metadata?.labels ?? {}), where).toBe(true);
    }
  });

  it('runs at least two replicas of each service at all times', () => {
    for (const hpa of ofKind(render('neon'), HorizontalPodAutoscaler.is)) {
      expect.soft(hpa.spec?.minReplicas, `HorizontalPodAutoscaler/${hpa.metadata?.name}`).toBeGreaterThanOrEqual(2);
    }
  });

  it('pins the services’ images by digest, never by a tag that can move', () => {
    for (const workload of workloads(render('neon'))) {
      for (const { container } of containers(workload)) {
        expect
          .soft(container.image, `${name(workload)} ${container.name}`)
          .toMatch(/^[^@:\s]+(:\d+)?[^@:\s]*@sha256:[0-9a-f]{64}$/);
      }
    }
  });
});

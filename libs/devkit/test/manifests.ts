/**
 * The overlays under k8s/overlays as a cluster would receive them: rendered with `kubectl kustomize` (the
 * kustomize built into kubectl), parsed, each object checked against the schema of its apiVersion and kind
 * (kubernetes-models, and @kubernetes-models/gateway-api for Gateway API), plus the few queries the stories
 * share: the pod templates, their containers, label selectors, and what a set of NetworkPolicies lets through.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gatewayApi from '@kubernetes-models/gateway-api';
import * as kubernetes from 'kubernetes-models';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { type IStatefulSet, StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { type IJob, Job } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer as NetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { IContainer as Container } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec as PodTemplate } from 'kubernetes-models/v1/PodTemplateSpec';
import { parseAllDocuments } from 'yaml';

type LabelSelector = NonNullable<INetworkPolicy['spec']>['podSelector'];

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const k8sDir = join(repoRoot, 'k8s');

/** Every overlay in k8s/overlays: a new one is checked by every story without being named here. */
export const overlays = readdirSync(join(k8sDir, 'overlays'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** What every rendered object has; the stories narrow it with the models' type guards (`Deployment.is`). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const renderedOverlays = new Map<string, K8sObject[]>();

/** The overlay's objects, rendered once per test file. Fails with how to get kubectl when it is missing. */
export function render(overlay: string): K8sObject[] {
  const cached = renderedOverlays.get(overlay);
  if (cached) return cached;
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', join(k8sDir, 'overlays', overlay)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'kubectl is not on the PATH: these checks render the overlays with its built-in kustomize (v5 or later). ' +
          'Install it (https://kubernetes.io/docs/tasks/tools/, e.g. `brew install kubectl`, or the binary from ' +
          'https://dl.k8s.io/release/stable.txt) and run the tests again; no cluster is needed.',
      );
    }
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl kustomize k8s/overlays/${overlay} failed: ${stderr.trim() || String(error)}`);
  }
  const objects = parseAllDocuments(output).map((document, i) => {
    if (document.errors.length > 0) throw new Error(`document ${i} of ${overlay}: ${document.errors[0]?.message}`);
    const object: unknown = document.toJS();
    if (!isK8sObject(object)) throw new Error(`document ${i} of ${overlay} is no Kubernetes object`);
    return object;
  });
  renderedOverlays.set(overlay, objects);
  return objects;
}

function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const { apiVersion, kind, metadata } = value as Record<string, unknown>;
  return (
    typeof apiVersion === 'string' &&
    typeof kind === 'string' &&
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof (metadata as Record<string, unknown>).name === 'string'
  );
}

export const describeObject = (object: K8sObject) => `${object.kind}/${object.metadata.name}`;

/** The objects of one kind, typed by its model: `ofKind(objects, Deployment.is)`. */
export function ofKind<T>(objects: readonly K8sObject[], is: (value: unknown) => value is T): T[] {
  return objects.flatMap((object) => (is(object) ? [object] : []));
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

/** Model namespaces by API group as the packages export them: `networking.k8s.io` → `networkingK8sIo`. */
const modelGroups: Record<string, unknown> = { ...kubernetes, ...gatewayApi };

/**
 * The model class for an apiVersion and kind. Throws for one no package has: an object nobody validated must
 * fail the check, never slip through it.
 */
export function modelFor(apiVersion: string, kind: string): ModelClass {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const groupModule = group === '' ? modelGroups : modelGroups[camelCase(group ?? '')];
  const versionModule = (groupModule as Record<string, unknown> | undefined)?.[version ?? ''];
  const model = (versionModule as Record<string, unknown> | undefined)?.[kind];
  if (typeof model !== 'function' || !isModelClass(model, apiVersion, kind)) {
    throw new Error(
      `no schema for ${apiVersion} ${kind}: kubernetes-models and @kubernetes-models/gateway-api have none, so ` +
        'it cannot be validated (add a models package for it, or do not ship it)',
    );
  }
  return model;
}

function isModelClass(model: unknown, apiVersion: string, kind: string): model is ModelClass {
  const statics = model as { apiVersion?: unknown; kind?: unknown };
  return statics.apiVersion === apiVersion && statics.kind === kind;
}

function camelCase(group: string): string {
  return group
    .split(/[.-]/)
    .map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');
}

/** Validates the object against its schema; the error names the object and the offending field. */
export function validate(object: K8sObject): void {
  const Model = modelFor(object.apiVersion, object.kind);
  try {
    new Model(asTheApiServerReadsIt(object)).validate();
  } catch (error) {
    throw new Error(`${describeObject(object)} does not match its schema: ${(error as Error).message}`);
  }
}

/**
 * kustomize wraps a long base64 value of a generated Secret over several lines; the API server's decoder
 * skips line breaks (Go's encoding/base64), the schema's "byte" format does not. Everything else as rendered.
 */
function asTheApiServerReadsIt(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || typeof object.data !== 'object' || object.data === null) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([key, value]) => [
      key,
      typeof value === 'string' ? value.replace(/[\r\n]/g, '') : value,
    ]),
  );
  return { ...object, data };
}

/** A workload with a pod template: what the pod security, sizing and label stories walk. */
export type Workload = IDeployment | IJob | IStatefulSet;

export function workloads(objects: K8sObject[]): Workload[] {
  return objects.filter((o): o is K8sObject & Workload => Deployment.is(o) || Job.is(o) || StatefulSet.is(o));
}

export function podTemplate(workload: Workload): PodTemplate {
  const template = workload.spec?.template;
  if (!template) throw new Error(`${workload.kind}/${workload.metadata?.name} has no pod template`);
  return template;
}

/** Every container of the workload's pods, init containers included, each with its kind. */
export function containers(workload: Workload): { container: Container; init: boolean }[] {
  const spec = podTemplate(workload).spec;
  return [
    ...(spec?.initContainers ?? []).map((container) => ({ container, init: true })),
    ...(spec?.containers ?? []).map((container) => ({ container, init: false })),
  ];
}

/** Whether a label selector (matchLabels and matchExpressions) selects these labels. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    switch (operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown label selector operator ${operator}`);
    }
  });
  return byLabels && byExpressions;
}

/** A port a rule opens, as `TCP/5432` (`TCP/*`: every port). */
type PortKey = `${string}/${number | string}`;

/** One rule of a NetworkPolicy that applies to a pod: the ports it opens and the peers it opens them to. */
export interface TrafficRule {
  policy: string;
  ports: PortKey[];
  peers: NetworkPolicyPeer[];
}

/**
 * What the policies let a pod in `namespace` with `labels` receive (`ingress`) or send (`egress`). `isolated`:
 * some policy of that direction selects the pod, so only the rules let anything through (an isolated pod with
 * no rules gets nothing; one not isolated gets everything).
 */
export function traffic(
  policies: INetworkPolicy[],
  pod: { namespace: string; labels: Record<string, string> },
  direction: 'ingress' | 'egress',
): { isolated: boolean; rules: TrafficRule[] } {
  const policyType = direction === 'ingress' ? 'Ingress' : 'Egress';
  const applicable = policies.filter(
    (policy) =>
      (policy.metadata?.namespace ?? pod.namespace) === pod.namespace &&
      (policy.spec?.policyTypes ?? ['Ingress']).includes(policyType) &&
      selects(policy.spec?.podSelector, pod.labels),
  );
  const rules = applicable.flatMap((policy) => {
    const policyRules =
      direction === 'ingress'
        ? (policy.spec?.ingress ?? []).map((rule) => ({ ports: rule.ports, peers: rule.from }))
        : (policy.spec?.egress ?? []).map((rule) => ({ ports: rule.ports, peers: rule.to }));
    return policyRules.map(
      ({ ports, peers }): TrafficRule => ({
        policy: policy.metadata?.name ?? '',
        ports: (ports ?? [{}]).map((port): PortKey => `${port.protocol ?? 'TCP'}/${port.port ?? '*'}`),
        peers: peers ?? [],
      }),
    );
  });
  return { isolated: applicable.length > 0, rules };
}

/** A JSON file of the repository, parsed. */
export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(join(repoRoot, path), 'utf8'));
}

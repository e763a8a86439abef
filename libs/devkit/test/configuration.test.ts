/**
 * The variables the programs read against the places that document or set them. What a program reads is the
 * set of keys of its zod object schema: a service's server reads its definition's `config` and the tracing
 * settings, the setup step (`node migrate.ts`) `migrationConfigSchema`, its `wait` subcommand
 * `schemaWaitConfigSchema`. `.env.example` documents exactly the variables some program reads; compose and the
 * rendered Kubernetes overlays pass each program only variables it reads, so a typo or a stale name fails here
 * instead of being silently ignored by a running service.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as platformConfig from '@todo/platform/config';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Read by something other than the configuration schemas, so a deployment may set them although no schema has
 * them. Each is named, not matched by prefix, so that a misspelt one still fails.
 */
const readElsewhere = new Map([
  // Node itself.
  ['NODE_OPTIONS', 'Node: command-line options, e.g. --max-old-space-size'],
  ['NODE_EXTRA_CA_CERTS', 'Node: extra certificate authorities for TLS'],
  // The OpenTelemetry SDK, once OTEL_EXPORTER_OTLP_ENDPOINT (tracingConfigSchema) turns tracing on.
  ['OTEL_EXPORTER_OTLP_HEADERS', 'OpenTelemetry SDK'],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OpenTelemetry SDK'],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'OpenTelemetry SDK'],
  ['OTEL_EXPORTER_OTLP_COMPRESSION', 'OpenTelemetry SDK'],
  ['OTEL_EXPORTER_OTLP_CERTIFICATE', 'OpenTelemetry SDK'],
  ['OTEL_TRACES_SAMPLER', 'OpenTelemetry SDK'],
  ['OTEL_TRACES_SAMPLER_ARG', 'OpenTelemetry SDK'],
  ['OTEL_RESOURCE_ATTRIBUTES', 'OpenTelemetry SDK'],
  ['OTEL_PROPAGATORS', 'OpenTelemetry SDK'],
  ['OTEL_SDK_DISABLED', 'OpenTelemetry SDK'],
  ['OTEL_LOG_LEVEL', 'OpenTelemetry SDK'],
]);

type Program = 'server' | 'setup' | 'wait';

/** The keys of a zod object schema, found at run time (a service's `config` is typed as any zod type). */
function keysOf(schema: unknown, what: string): string[] {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  if (!shape) throw new Error(`${what} is not a zod object schema: its variables cannot be listed`);
  return Object.keys(shape);
}

/** Every service folder with a definition, as the Dockerfile, `npm start` and the setup steps find them. */
const folders = readdirSync(`${root}services`, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`${root}services/${entry.name}/src/definition.ts`))
  .map((entry) => entry.name)
  .sort();

const serviceKeys = new Map<string, string[]>();
for (const folder of folders) {
  const module: Record<string, unknown> = await import(
    pathToFileURL(`${root}services/${folder}/src/definition.ts`).href
  );
  const definition = Object.values(module).find(
    (value): value is { name: string; config: unknown } =>
      typeof value === 'object' && value !== null && 'name' in value && 'config' in value,
  );
  if (!definition) throw new Error(`services/${folder}/src/definition.ts exports no service definition`);
  serviceKeys.set(folder, keysOf(definition.config, `the ${folder} service's config`));
}

const schemas: Record<string, unknown> = platformConfig;
const tracingKeys = keysOf(platformConfig.tracingConfigSchema, 'tracingConfigSchema');
const setupKeys = keysOf(platformConfig.migrationConfigSchema, 'migrationConfigSchema');
// `node migrate.ts wait` has its own, smaller schema where the platform defines one.
const waitKeys =
  'schemaWaitConfigSchema' in schemas ? keysOf(schemas.schemaWaitConfigSchema, 'schemaWaitConfigSchema') : [];

/** What the program in a container of `folder`'s image reads. */
function reads(folder: string, program: Program): Set<string> {
  if (program === 'setup') return new Set(setupKeys);
  if (program === 'wait') return new Set(waitKeys);
  return new Set([...(serviceKeys.get(folder) ?? []), ...tracingKeys]);
}

/** `node migrate.ts` is the setup step, `node migrate.ts wait` its wait; anything else runs the server. */
function programOf(commandLine: string[]): Program {
  const at = commandLine.findIndex((word) => word === 'migrate.ts' || word.endsWith('/migrate.ts'));
  if (at < 0) return 'server';
  return commandLine[at + 1] === 'wait' ? 'wait' : 'setup';
}

/** Variables set for `folder`'s `program` that it does not read: `where: NAME (why it is wrong)` lines. */
function unread(where: string, folder: string, program: Program, names: Iterable<string>): string[] {
  const known = reads(folder, program);
  return [...names]
    .filter((name) => !known.has(name) && !readElsewhere.has(name))
    .map(
      (name) =>
        `${where}: ${name} is read by no schema of the ${folder} ${program === 'server' ? 'service' : `service's ${program} step`}`,
    );
}

describe('.env.example documents exactly the variables the programs read', () => {
  const lines = readFileSync(`${root}.env.example`, 'utf8').split('\n');
  /** `# NAME=default  # comment` lines, each under the `# --- <section> ---` header above it. */
  const documented = new Map<string, string[]>();
  let section = '';
  for (const line of lines) {
    const header = /^#\s*---\s*(.+?)\s*-{3,}/.exec(line);
    if (header?.[1]) section = header[1];
    const variable = /^#\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1];
    if (variable) documented.set(variable, [...(documented.get(variable) ?? []), section]);
  }
  const everything = new Set([...tracingKeys, ...setupKeys, ...waitKeys, ...[...serviceKeys.values()].flat()]);

  it('documents every variable a service, its setup step or the tracing reads', () => {
    const missing = [...everything].filter((name) => !documented.has(name)).sort();
    expect(missing, `add to .env.example: ${missing.join(', ')}`).toEqual([]);
  });

  it('documents nothing that no program reads, so a renamed variable leaves no stale line behind', () => {
    const stale = [...documented.keys()].filter((name) => !everything.has(name) && !readElsewhere.has(name));
    expect(stale, `read by nothing: ${stale.join(', ')}`).toEqual([]);
  });

  it("lists a service's own variables under that service, and under both services only what both read", () => {
    const misplaced: string[] = [];
    const shared = new Set([...tracingKeys, ...setupKeys, ...waitKeys]);
    for (const [name, sections] of documented) {
      for (const heading of sections) {
        const folder = /^(\S+) service$/.exec(heading)?.[1];
        if (folder && serviceKeys.has(folder) && !serviceKeys.get(folder)?.includes(name)) {
          misplaced.push(`${name} is listed under "${heading}", which does not read it`);
        }
        const everyService = [...serviceKeys.values()].every((keys) => keys.includes(name));
        if (heading === 'both services' && !everyService && !shared.has(name)) {
          misplaced.push(`${name} is listed under "both services", but not every service reads it`);
        }
      }
    }
    expect(misplaced, misplaced.join('\n')).toEqual([]);
  });
});

describe('docker-compose.yml passes each program only variables it reads', () => {
  interface ComposeService {
    build?: { args?: Record<string, string> };
    command?: string[] | string;
    environment?: Record<string, unknown> | string[];
  }
  const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };

  it('sets no variable the setup step or the service in that container would not read (a typo fails)', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const [name, service] of Object.entries(compose.services)) {
      const folder = service.build?.args?.SERVICE;
      if (!folder) continue; // PostgreSQL and NATS: not our programs
      checked++;
      const commandLine = typeof service.command === 'string' ? service.command.split(/\s+/) : (service.command ?? []);
      const env = service.environment ?? {};
      const names = Array.isArray(env) ? env.map((entry) => entry.split('=')[0] ?? '') : Object.keys(env);
      problems.push(...unread(`docker-compose.yml ${name}`, folder, programOf(commandLine), names));
    }
    expect(checked, 'compose services built from services/Dockerfile').toBeGreaterThan(0);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

describe('the Kubernetes overlays pass each container only variables its program reads', () => {
  const overlaysDir = `${root}k8s/overlays`;
  const overlays = existsSync(overlaysDir)
    ? readdirSync(overlaysDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(`${overlaysDir}/${entry.name}/kustomization.yaml`))
        .map((entry) => entry.name)
        .sort()
    : [];

  it('has the local and the neon overlay to check', () => {
    expect(overlays).toEqual(expect.arrayContaining(['local', 'neon']));
  });

  interface EnvFrom {
    prefix?: string;
    configMapRef?: { name: string };
    secretRef?: { name: string };
  }
  interface Container {
    name: string;
    image?: string;
    command?: string[];
    args?: string[];
    env?: { name: string }[];
    envFrom?: EnvFrom[];
  }
  interface K8sObject {
    kind: string;
    metadata: { name: string };
    data?: Record<string, string>;
    stringData?: Record<string, string>;
    spec?: { template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } };
  }
  interface PodTemplate {
    spec?: { containers?: Container[]; initContainers?: Container[] };
  }

  /** The service folder an image was built for: `…/todo-platform/auth:1.2.3` or `…/todo-auth@sha256:…`. */
  function folderOf(image = ''): string | undefined {
    const repository = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
    const last = repository.split('/').at(-1) ?? '';
    return folders.find((folder) => last === folder || last.endsWith(`-${folder}`));
  }

  const rendered = new Map<string, K8sObject[]>();
  function render(overlay: string): K8sObject[] {
    const cached = rendered.get(overlay);
    if (cached) return cached;
    let output: string;
    try {
      output = execFileSync('kubectl', ['kustomize', `${overlaysDir}/${overlay}`], { encoding: 'utf8' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new Error('kubectl is not on the PATH: its built-in kustomize renders the overlays (no cluster needed)');
    }
    const objects = parseAllDocuments(output).map((document) => document.toJS() as K8sObject);
    rendered.set(overlay, objects);
    return objects;
  }

  /** Each container that runs one of our images, with the service it was built for and the program it runs. */
  function ourContainers(overlay: string) {
    return render(overlay).flatMap((object) => {
      const template = object.spec?.template ?? object.spec?.jobTemplate?.spec?.template;
      const containers = [...(template?.spec?.initContainers ?? []), ...(template?.spec?.containers ?? [])];
      return containers.flatMap((container) => {
        const folder = folderOf(container.image);
        if (!folder) return []; // PgBouncer, NATS, …: not our programs
        const program = programOf([...(container.command ?? []), ...(container.args ?? [])]);
        const where = `${overlay} ${object.kind}/${object.metadata.name} container ${container.name}`;
        return [{ container, folder, program, where }];
      });
    });
  }

  for (const overlay of overlays) {
    it(`${overlay}: runs a server container of every service`, () => {
      const servers = new Set(ourContainers(overlay).flatMap((c) => (c.program === 'server' ? [c.folder] : [])));
      expect([...servers].sort()).toEqual(folders);
    });

    it(`${overlay}: sets in a container's own env only variables its program reads`, () => {
      const problems = ourContainers(overlay).flatMap(({ container, folder, program, where }) =>
        unread(
          where,
          folder,
          program,
          (container.env ?? []).map((variable) => variable.name),
        ),
      );
      expect(problems, problems.join('\n')).toEqual([]);
    });

    // A ConfigMap taken whole (envFrom) by a Deployment, its wait step and its migration Job is the one place for
    // the settings they share: each key must be read by one of the programs that take it.
    it(`${overlay}: puts in a ConfigMap taken whole only variables a program that takes it reads`, () => {
      const readers = new Map<string, { kind: string; name: string; prefix: string; reads: Set<string> }>();
      for (const { container, folder, program } of ourContainers(overlay)) {
        for (const source of container.envFrom ?? []) {
          const ref = source.configMapRef
            ? { kind: 'ConfigMap', name: source.configMapRef.name }
            : source.secretRef && { kind: 'Secret', name: source.secretRef.name };
          if (!ref) continue;
          const id = `${ref.kind}/${ref.name}/${source.prefix ?? ''}`;
          const entry = readers.get(id) ?? { ...ref, prefix: source.prefix ?? '', reads: new Set<string>() };
          for (const name of reads(folder, program)) entry.reads.add(name);
          readers.set(id, entry);
        }
      }
      const problems: string[] = [];
      for (const { kind, name, prefix, reads: known } of readers.values()) {
        const object = render(overlay).find((o) => o.kind === kind && o.metadata.name === name);
        // A Secret made outside the overlay (see its secrets.example.yaml) is not rendered: its keys cannot be checked.
        if (!object) continue;
        for (const key of Object.keys({ ...object.data, ...object.stringData })) {
          const variable = `${prefix}${key}`;
          if (!known.has(variable) && !readElsewhere.has(variable)) {
            problems.push(`${overlay} ${kind}/${name}: ${variable} is read by none of the programs that take it`);
          }
        }
      }
      expect(readers.size, `${overlay}: ConfigMaps taken whole`).toBeGreaterThan(0);
      expect(problems, problems.join('\n')).toEqual([]);
    });
  }
});

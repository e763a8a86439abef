/**
 * The service image, checked without a Docker engine: services/Dockerfile is parsed by dockerfile-ast and linted
 * by dockerfile-utils (the parser and linter behind the VS Code Docker extension), and the checks BuildKit would
 * run at build time (`docker build --check`) that matter here are repeated on the parsed instructions.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { matchesGlob } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Arg, DefaultVariables, DockerfileParser, type Instruction, type Label } from 'dockerfile-ast';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfilePath = `${root}services/Dockerfile`;
const text = readFileSync(dockerfilePath, 'utf8');
const dockerfile = DockerfileParser.parse(text);

/** `services/Dockerfile:12`, for failure messages. */
const at = (instruction: Instruction) => `services/Dockerfile:${instruction.getRange().start.line + 1}`;

interface Stage {
  name: string;
  instructions: Instruction[];
}

/** The build stages in order, each with its instructions from its FROM on; the last is the image. */
function stages(): Stage[] {
  const result: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const alias = instruction.getArguments()[2]?.getValue();
      result.push({ name: alias ?? `#${result.length}`, instructions: [] });
    }
    result.at(-1)?.instructions.push(instruction);
  }
  return result;
}

const image = (): Stage => {
  const last = stages().at(-1);
  if (!last) throw new Error('services/Dockerfile has no FROM');
  return last;
};

const isArg = (instruction: Instruction): instruction is Arg => instruction.getKeyword() === 'ARG';
const globalArgs = new Map(
  dockerfile.getInitialARGs().flatMap((arg) => {
    const property = arg.getProperty();
    return property ? [[property.getName(), property.getValue()] as const] : [];
  }),
);

/** An ARG's default in a stage: its own, or the global one it takes over when declared without a value. */
function argDefault(arg: Arg): string | null {
  const property = arg.getProperty();
  if (!property) return null;
  return property.getValue() ?? globalArgs.get(property.getName()) ?? null;
}

/** The words of one shell command line, for the few RUN checks below. */
const runText = (instruction: Instruction) => instruction.getRawArgumentsContent() ?? '';

describe('the service image builds the first time, from services/Dockerfile alone', () => {
  it('has none of the problems a Dockerfile linter finds, warnings included', () => {
    const all = ValidationSeverity.ERROR;
    const problems = validate(text, {
      deprecatedMaintainer: all,
      directiveCasing: all,
      emptyContinuationLine: all,
      instructionCasing: all,
      instructionCmdMultiple: all,
      instructionEntrypointMultiple: all,
      instructionHealthcheckMultiple: all,
      instructionJSONInSingleQuotes: all,
      instructionWorkdirRelative: all,
    }).map((d) => `services/Dockerfile:${d.range.start.line + 1}: ${d.message}`);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('needs no --build-arg to name a valid base image: every ARG a FROM uses has a default (InvalidDefaultArgInFrom)', () => {
    const problems: string[] = [];
    for (const from of dockerfile.getFROMs()) {
      for (const variable of from.getVariables()) {
        const name = variable.getName();
        // A later stage may start FROM an earlier one by name; variables are what must resolve on their own.
        if (!globalArgs.has(name)) problems.push(`${at(from)}: FROM uses ${name}, which no global ARG declares`);
        else if (!globalArgs.get(name)) problems.push(`${at(from)}: FROM uses ${name}, whose ARG has no default`);
      }
    }
    expect(dockerfile.getFROMs().length).toBeGreaterThan(0);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('gives every ARG a default, SERVICE an empty one that the build refuses before it installs anything', () => {
    const withoutDefault = dockerfile
      .getInstructions()
      .filter(isArg)
      .filter((arg) => argDefault(arg) === null)
      .map((arg) => `${at(arg)}: ARG ${arg.getProperty()?.getName()} has no default`);
    expect(withoutDefault, withoutDefault.join('\n')).toEqual([]);
    expect(globalArgs.get('SERVICE'), 'the global ARG SERVICE, empty by default').toBe('');

    // The stage that installs the dependencies checks SERVICE first: no default service is built by accident.
    const deps = stages().find((stage) => stage.instructions.some((i) => /\bnpm ci\b/.test(runText(i))));
    expect(deps, 'a stage that runs npm ci').toBeDefined();
    const runs = deps?.instructions.filter((i) => i.getKeyword() === 'RUN') ?? [];
    const check = runs.findIndex((i) => /test -n "\$\{SERVICE\}"/.test(runText(i)) && /exit 1/.test(runText(i)));
    const install = runs.findIndex((i) => /\bnpm ci\b/.test(runText(i)));
    expect(check, `the ${deps?.name} stage refuses an empty SERVICE`).toBeGreaterThanOrEqual(0);
    expect(check, 'before npm ci').toBeLessThan(install);
  });

  it('uses in each stage only the variables the stage declares, as BuildKit resolves them (UndefinedVar)', () => {
    const problems: string[] = [];
    for (const stage of stages()) {
      const known = new Set(DefaultVariables);
      for (const instruction of stage.instructions) {
        // RUN is expanded by the shell, at build time, with its own variables; FROM was checked above.
        if (!['RUN', 'FROM'].includes(instruction.getKeyword())) {
          for (const variable of instruction.getVariables()) {
            if (!known.has(variable.getName())) {
              problems.push(`${at(instruction)}: ${variable.getName()} is not declared in the ${stage.name} stage`);
            }
          }
        }
        if (isArg(instruction)) known.add(instruction.getProperty()?.getName() ?? '');
        if (instruction.getKeyword() === 'ENV') {
          for (const property of (instruction as Label).getProperties()) known.add(property.getName());
        }
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('copies only what exists in the repository, for every service, and what .dockerignore lets into the context', () => {
    const services = readdirSync(`${root}services`, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    const ignored = readFileSync(`${root}.dockerignore`, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    // Docker's rule: the last matching pattern wins, `!` re-includes, and a pattern excludes what lies below a match.
    const excluded = (path: string) => {
      const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      let result = false;
      for (const pattern of ignored) {
        const negated = pattern.startsWith('!');
        const glob = (negated ? pattern.slice(1) : pattern).replace(/^\/+|\/+$/g, '');
        if (prefixes.some((prefix) => matchesGlob(prefix, glob))) result = !negated;
      }
      return result;
    };
    const problems: string[] = [];
    const copies = dockerfile.getCOPYs().filter((copy) => !copy.getFromFlag());
    for (const copy of copies) {
      const sources = copy
        .getArguments()
        .slice(0, -1)
        .map((argument) => argument.getValue());
      for (const service of services) {
        for (const source of sources.map((s) => s.replaceAll(`\${SERVICE}`, service).replace(/\/$/, ''))) {
          if (!existsSync(`${root}${source}`)) problems.push(`${at(copy)}: ${source} does not exist`);
          else if (excluded(source))
            problems.push(`${at(copy)}: ${source} is kept out of the context by .dockerignore`);
        }
      }
    }
    expect(copies.length).toBeGreaterThan(0);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('carries no secret in an ARG or ENV, where it would stay in the image history (SecretsUsedInArgOrEnv)', () => {
    // BuildKit's rule matches these words in the names; PUBLIC names are its exception.
    const secretish = /(apikey|auth|credentials?|key|kek|passwd|password|pword|secret|token)/i;
    const names = dockerfile
      .getInstructions()
      .filter((i) => ['ARG', 'ENV'].includes(i.getKeyword()))
      .flatMap((i) => (i as Label).getProperties().map((p) => p.getName()))
      .filter((name) => secretish.test(name) && !/public/i.test(name));
    expect(names).toEqual([]);
  });
});

describe('the image runs the service and nothing else, as a user Kubernetes can verify', () => {
  it('runs as the base image node user by number (1000:1000), so that runAsNonRoot can check it is not root', () => {
    const users = image().instructions.filter((i) => i.getKeyword() === 'USER');
    const user = users.at(-1)?.getArgumentsContent();
    expect(user, 'the image stage sets USER').toBeDefined();
    expect(user).toMatch(/^\d+:\d+$/);
    expect(user).toBe('1000:1000');
  });

  it('has no package manager: the image stage removes npm, npx, corepack and yarn and checks they are gone', () => {
    const runs = image().instructions.filter((i) => i.getKeyword() === 'RUN');
    const removal = runs.find(
      (i) => /\brm -rf\b/.test(runText(i)) && runText(i).includes('/usr/local/lib/node_modules/npm'),
    );
    expect(removal, 'a RUN in the image stage that removes npm').toBeDefined();
    const removed = runText(removal as Instruction);
    for (const path of [
      '/usr/local/lib/node_modules/npm',
      '/usr/local/lib/node_modules/corepack',
      '/usr/local/bin/npm',
      '/usr/local/bin/npx',
      '/usr/local/bin/corepack',
      '/usr/local/bin/yarn',
    ]) {
      expect(removed, `removes ${path}`).toContain(path);
    }
    expect(removed, 'fails the build if one is still found').toMatch(/command -v[\s\S]*exit 1/);
    const usesOne = runs.filter((i) => i !== removal && /\b(npm|npx|corepack|yarn)\b/.test(runText(i)));
    expect(usesOne.map(at), 'no RUN of the image stage uses a package manager').toEqual([]);
  });

  it('starts the API with node itself, in exec form, so that SIGTERM reaches the service (JSONArgsRecommended)', () => {
    const cmds = image().instructions.filter((i) => i.getKeyword() === 'CMD');
    expect(cmds).toHaveLength(1);
    const cmd = dockerfile.getCMDs().at(-1);
    expect(cmd?.getOpeningBracket(), 'CMD in exec (JSON) form').not.toBeNull();
    expect(cmd?.getJSONStrings().map((s) => s.getJSONValue())).toEqual(['node', 'server.ts']);
    // The base image's entry point (docker-entrypoint.sh) execs the command; a shell of ours would not.
    expect(image().instructions.filter((i) => i.getKeyword() === 'ENTRYPOINT')).toEqual([]);
    const healthcheck = dockerfile.getHEALTHCHECKs().at(-1);
    expect(healthcheck?.getSubcommand()?.getValue()).toBe('CMD');
    expect(healthcheck?.getRawArgumentsContent()).toMatch(/CMD \["node", "-e",/);
  });

  it('says where it comes from: OCI labels filled from build args that all have defaults', () => {
    const labels = image().instructions.filter((i): i is Label => i.getKeyword() === 'LABEL');
    const values = new Map(labels.flatMap((l) => l.getProperties().map((p) => [p.getName(), p.getValue()] as const)));
    for (const [key, arg] of [
      ['org.opencontainers.image.source', 'SOURCE'],
      ['org.opencontainers.image.revision', 'REVISION'],
      ['org.opencontainers.image.version', 'VERSION'],
    ] as const) {
      expect(values.get(key), key).toBe(`\${${arg}}`);
    }
    expect(values.get('org.opencontainers.image.title')).toContain(`\${SERVICE}`);
    const args = new Map(
      image()
        .instructions.filter(isArg)
        .map((arg) => [arg.getProperty()?.getName(), argDefault(arg)] as const),
    );
    const missing = labels
      .flatMap((label) => label.getVariables().map((v) => v.getName()))
      .filter((name) => !args.has(name) || args.get(name) === null);
    expect(missing, 'label variables without an ARG default in the image stage').toEqual([]);
  });
});

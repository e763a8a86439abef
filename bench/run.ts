/**
 * `npm run bench`: the services measured against a bare-Node floor, scenario by scenario, so that a regression
 * shows as a number. Not a test: it prints a table, checks the targets and writes JSON to
 * bench/results/. See bench/README.md for what each scenario does and how to read the figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Measurement, type MeasureOptions, measure, measureTogether, rssNow } from './measure.ts';
import { type BenchOptions, parseOptions, USAGE } from './options.ts';
import {
  type BenchReport,
  checkTargets,
  compare,
  type FloodResult,
  floodResult,
  formatReport,
  type ScenarioResult,
  writeReport,
} from './report.ts';
import { LIST, LOGIN, LOGIN_FLOOD, SCENARIOS, type ScenarioContext, type Target } from './scenarios.ts';
import { seedTodos, seedUsers } from './seed.ts';
import { existingStack, type Floor, logBytes, type Stack, startFloor, startStack } from './stack.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results', import.meta.url));
/** Accounts the connections share round-robin; each has this many todos. */
const USERS = 8;
const TODOS_PER_USER = 1_000;

const say = (message: string) => console.error(`[bench] ${message}`);

/** The commit measured, and whether the working tree differed from it (figures of uncommitted code). */
function revision(): { commit: string; dirty: boolean } | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    };
  } catch {
    return undefined;
  }
}

function selected(options: BenchOptions): { scenarios: typeof SCENARIOS; flood: boolean } {
  const known = [...SCENARIOS.map((s) => s.name), LOGIN_FLOOD];
  const unknown = options.scenarios.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new TypeError(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const wanted = (name: string) => options.scenarios.length === 0 || options.scenarios.includes(name);
  return { scenarios: SCENARIOS.filter((s) => wanted(s.name)), flood: wanted(LOGIN_FLOOD) };
}

/** The processes serving a target's API of the given kind, by role, for sampling. */
function servingPids(
  target: Target,
  floor: Floor | undefined,
  serves: 'auth' | 'todo' | 'both',
): Record<string, number> {
  if (target.name === 'floor') return floor ? { floor: floor.pid } : {};
  if (!target.pids) return {};
  if (serves === 'both') return { todo: target.pids.todo, auth: target.pids.auth };
  return { [serves]: target.pids[serves] };
}

const brief = (m: Measurement) =>
  `${m.requestsPerSecond} req/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, non-2xx ${m.non2xx}, errors ${m.errors}`;

const loadAverage = () => loadavg().map((n) => Math.round(n * 100) / 100);

/** What a run needs once the processes are up: the targets, their pids, the seeded accounts. */
interface Bench {
  targets: Target[];
  floor: Floor | undefined;
  base: Omit<MeasureOptions, 'pids'>;
  context(target: Target): ScenarioContext;
}

/** Each scenario on each target: the service, then the floor, back to back, so the machine is alike for both. */
async function runScenarios(bench: Bench, scenarios: typeof SCENARIOS): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const measured: Partial<Record<Target['name'], Measurement>> = {};
    for (const target of bench.targets) {
      const context = bench.context(target);
      const load = await scenario.prepare(target, context);
      const m = await measure(load, { ...bench.base, pids: servingPids(target, bench.floor, load.serves) });
      const notes = await load.finish?.();
      measured[target.name] = notes ? { ...m, notes } : m;
      context.rates.set(scenario.name, m.requestsPerSecond);
      say(`${scenario.name.padEnd(8)} ${target.name.padEnd(7)} ${brief(m)}`);
    }
    results.push(compare(scenario.name, scenario.what, measured.service as Measurement, measured.floor));
  }
  return results;
}

/** list alone, then list while as many connections log in: argon2 must not stall everyone else. */
async function runLoginFlood(bench: Bench): Promise<FloodResult[]> {
  const floods: FloodResult[] = [];
  for (const target of bench.targets) {
    const options: MeasureOptions = { ...bench.base, pids: servingPids(target, bench.floor, 'both') };
    const alone = await measure(await LIST.prepare(target, bench.context(target)), options);
    const loads = [
      await LIST.prepare(target, bench.context(target)),
      await LOGIN.prepare(target, bench.context(target)),
    ];
    const together = await measureTogether(loads, options);
    const [list, login] = together.results as [Measurement, Measurement];
    const loaded = {
      ...list,
      processes: together.processes,
      loadGeneratorCpuPercent: together.loadGeneratorCpuPercent,
    };
    const flood = floodResult(target.name, alone, loaded, login);
    floods.push(flood);
    say(
      `${LOGIN_FLOOD} ${target.name}: list p99 ${alone.latencyMs.p99} ms alone, ${loaded.latencyMs.p99} ms with ${login.requestsPerSecond} logins/s (${flood.p99Ratio}×)`,
    );
  }
  return floods;
}

async function main(options: BenchOptions, cleanups: (() => Promise<void>)[]): Promise<void> {
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  const plan = selected(options);
  const logDir = mkdtempSync(join(tmpdir(), 'bench-'));
  const nodeOptions = options.cpuProf ? `--cpu-prof --cpu-prof-dir=${join(logDir, 'profiles')}` : undefined;
  cleanups.push(async () => {
    if (options.keepLogs || options.urls) say(`logs kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  });

  say(options.urls ? `targeting ${options.urls.auth} and ${options.urls.todo}` : 'starting the stack');
  const stack: Stack = options.urls
    ? await existingStack(options.urls, options.databaseUrl)
    : await startStack({ serverUrl: options.databaseUrl, natsUrl: options.natsUrl, logDir, nodeOptions });
  cleanups.push(() => stack.stop());
  const db = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  cleanups.push(() => db.end());

  say(`seeding ${USERS} users (register + login) and ${TODOS_PER_USER} todos each`);
  const users = await seedUsers(stack.authUrl, USERS);
  await seedTodos(db, users, TODOS_PER_USER);

  const targets: Target[] = [
    { name: 'service', authUrl: stack.authUrl, todoUrl: stack.todoUrl, ...(stack.pids ? { pids: stack.pids } : {}) },
  ];
  let floor: Floor | undefined;
  if (options.floor) {
    const started = await startFloor(stack, logDir, nodeOptions);
    cleanups.push(() => started.stop());
    targets.push({ name: 'floor', authUrl: started.url, todoUrl: started.url });
    floor = started;
  }
  const everyPid = { ...stack.pids, ...(floor ? { floor: floor.pid } : {}) };
  const rssIdleMb = await rssNow(everyPid);

  const rates = new Map(targets.map((t) => [t.name, new Map<string, number>()]));
  const bench: Bench = {
    targets,
    floor,
    base: {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
    },
    context: (target) => ({
      db,
      users,
      connections: options.connections,
      seconds: options.durationSeconds + options.warmupSeconds,
      rates: rates.get(target.name) as Map<string, number>,
    }),
  };
  const results = await runScenarios(bench, plan.scenarios);
  const floods = plan.flood ? await runLoginFlood(bench) : [];

  const rssFinalMb = await rssNow(everyPid);
  const logs = options.urls
    ? undefined
    : Object.fromEntries(['auth', 'todo'].map((service) => [service, logBytes(join(logDir, `${service}.log`))]));
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    revision: revision(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      loadAverage: { atStart: loadAverageAtStart, atEnd: loadAverage() },
      node: process.version,
      postgres: (await db.query<{ v: string }>('show server_version')).rows[0]?.v,
    },
    settings: {
      ...bench.base,
      target: options.urls ?? 'self-started (NODE_ENV=production, LOG_LEVEL=info, logs to a file)',
      floor: options.floor,
      users: USERS,
      todosPerUser: TODOS_PER_USER,
      ...(logs ? { logBytes: logs } : {}),
    },
    rssMb: { idle: rssIdleMb, final: rssFinalMb },
    scenarios: results,
    loginFlood: floods,
    checks: checkTargets(results, floods),
  };
  const file = writeReport(options.resultsDir ?? RESULTS_DIR, report);
  console.log(formatReport(report));
  say(`written to ${file} and latest.json`);
}

const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((err: unknown) =>
      say(`clean-up failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
}
// Ctrl-C: the children run in their own process groups, so stopping them and dropping the database is ours to do.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping and cleaning up`);
    cleanUp().finally(() => process.exit(130));
  });
}

let options: BenchOptions | 'help';
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(USAGE);
} else {
  try {
    await main(options, cleanups);
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

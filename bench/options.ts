/** The command line of `npm run bench`: parsed once, refused with one line naming the bad option. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Base URLs of a running stack; undefined: the bench starts its own. */
  urls?: { auth: string; todo: string };
  /** The database the target uses (seeding, the floor): the bench's own when it starts the stack. */
  databaseUrl: string;
  natsUrl: string;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  /** Scenario names to run, in the bench's order; empty: all. */
  scenarios: string[];
  floor: boolean;
  keepLogs: boolean;
  /** Profile the processes the bench starts (V8 .cpuprofile files, written when they stop; implies keepLogs). */
  cpuProf: boolean;
  /** Where the JSON report goes; undefined: bench/results. */
  resultsDir?: string;
}

export const USAGE = `npm run bench -- [options]

  --duration <s>        seconds each scenario is measured (default 10)
  --warmup <s>          seconds of discarded load before each measurement (default 2)
  --connections <n>     concurrent keep-alive connections (default 32)
  --scenario <name>     run only this scenario; repeat or comma-separate for several
                        (list, get, patch, create, delete, login, refresh, login-flood)
  --no-floor            measure the services only
  --url <base>          target a running stack behind one address (an ingress) instead of starting one
  --url-auth <base>     ... or the auth and todo services at their own addresses
  --url-todo <base>
  --database-url <url>  with --url*: the target's database, for seeding and the floor
                        (default: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/todo_platform)
  --keep-logs           keep the log files of the processes the bench starts
  --cpu-prof            profile those processes (node --cpu-prof): .cpuprofile files beside the logs,
                        for Chrome DevTools or speedscope; best with one --scenario
  --results <dir>       write the JSON report there instead of bench/results
`;

const positive = (name: string, value: string, integer: boolean): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new TypeError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not ${value}`);
  }
  return n;
};

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function parseOptions(args: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      scenario: { type: 'string', multiple: true, default: [] },
      'no-floor': { type: 'boolean', default: false },
      url: { type: 'string' },
      'url-auth': { type: 'string' },
      'url-todo': { type: 'string' },
      'database-url': { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      results: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const auth = values['url-auth'] ?? values.url;
  const todo = values['url-todo'] ?? values.url;
  if ((auth === undefined) !== (todo === undefined)) {
    throw new TypeError('give both --url-auth and --url-todo, or --url for both');
  }
  if (values['database-url'] && !auth) throw new TypeError('--database-url is for a running stack (--url*)');
  return {
    ...(auth && todo ? { urls: { auth: trimSlash(auth), todo: trimSlash(todo) } } : {}),
    databaseUrl: values['database-url'] ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/todo_platform',
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    durationSeconds: positive('duration', values.duration, false),
    warmupSeconds: values.warmup === '0' ? 0 : positive('warmup', values.warmup, false),
    connections: positive('connections', values.connections, true),
    scenarios: values.scenario
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean),
    floor: !values['no-floor'],
    keepLogs: values['keep-logs'] || values['cpu-prof'],
    cpuProf: values['cpu-prof'],
    ...(values.results ? { resultsDir: values.results } : {}),
  };
}

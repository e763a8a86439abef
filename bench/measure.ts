/**
 * One measurement: autocannon at a fixed number of keep-alive connections for a fixed time, while the serving
 * processes are sampled (pidusage, every 250 ms) for their RSS and CPU. A warm-up run with the same load comes
 * first and is discarded (JIT, pools, caches).
 */
import autocannon from 'autocannon';
import pidusage from 'pidusage';
import type { Load } from './scenarios.ts';

const SAMPLE_EVERY_MS = 250;
const MB = 1024 * 1024;

export interface ProcessFigures {
  pid: number;
  peakRssMb: number;
  rssAfterMb: number;
  /** Of one core: 100 is one core busy; the peak of the 250 ms samples, and the mean over the run. */
  peakCpuPercent: number;
  meanCpuPercent: number;
}

export interface Measurement {
  requestsPerSecond: number;
  requests: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  non2xx: number;
  /** Connection errors and timeouts: requests that got no answer at all. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** The serving processes, by role (auth, todo, floor), when their pids are known. */
  processes: Record<string, ProcessFigures>;
  /** The bench's own process (it runs autocannon): near 100 means the load generator was the limit. */
  loadGeneratorCpuPercent: number;
  notes?: Record<string, number>;
}

export interface MeasureOptions {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** The processes to sample, by role. */
  pids: Record<string, number>;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs autocannon once; each connection is given its own requests. */
function fire(load: Load, connections: number, seconds: number): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url: load.url,
    connections,
    duration: seconds,
    pipelining: 1,
    setupClient: (client) => client.setRequests(load.requestsFor(next++)),
  });
}

/** Samples the processes until stopped; the peaks, and the CPU time each used in between. */
function sample(pids: Record<string, number>) {
  const list = Object.values(pids);
  const peaks = new Map<number, { rss: number; cpu: number }>(list.map((pid) => [pid, { rss: 0, cpu: 0 }]));
  const read = async (): Promise<Record<string, pidusage.Status>> => (list.length > 0 ? pidusage(list) : {});
  const started = read();
  const startedAt = performance.now();
  const timer = setInterval(() => {
    read().then(
      (stats) => {
        for (const [pid, stat] of Object.entries(stats)) {
          const peak = peaks.get(Number(pid));
          if (!peak) continue;
          peak.rss = Math.max(peak.rss, stat.memory);
          peak.cpu = Math.max(peak.cpu, stat.cpu);
        }
      },
      () => undefined,
    );
  }, SAMPLE_EVERY_MS);
  return async (): Promise<Record<string, Omit<ProcessFigures, 'rssAfterMb'> & { ctime: number }>> => {
    clearInterval(timer);
    const [first, last] = [await started, await read()];
    const wall = performance.now() - startedAt;
    return Object.fromEntries(
      Object.entries(pids).map(([role, pid]) => {
        const peak = peaks.get(pid) ?? { rss: 0, cpu: 0 };
        const used = (last[pid]?.ctime ?? 0) - (first[pid]?.ctime ?? 0);
        return [
          role,
          {
            pid,
            peakRssMb: round(Math.max(peak.rss, last[pid]?.memory ?? 0) / MB),
            peakCpuPercent: round(peak.cpu),
            meanCpuPercent: round((used / wall) * 100),
            ctime: used,
          },
        ];
      }),
    );
  };
}

/** The processes' resident set sizes now, in MB, by role. */
export async function rssNow(pids: Record<string, number>): Promise<Record<string, number>> {
  if (Object.keys(pids).length === 0) return {};
  const stats = await pidusage(Object.values(pids));
  return Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, round((stats[pid]?.memory ?? 0) / MB)]));
}

export function summarise(result: autocannon.Result): Omit<Measurement, 'processes' | 'loadGeneratorCpuPercent'> {
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count ?? 0]),
  );
  return {
    requestsPerSecond: round(result.requests.average),
    requests: result.requests.total,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: round(result.latency.average, 2),
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

/** Several loads at once (the login flood): each one's result, the processes sampled over all of them. */
export async function measureTogether(
  loads: Load[],
  { connections, durationSeconds, warmupSeconds, pids }: MeasureOptions,
): Promise<{
  results: ReturnType<typeof summarise>[];
  processes: Record<string, ProcessFigures>;
  loadGeneratorCpuPercent: number;
}> {
  if (warmupSeconds > 0) await Promise.all(loads.map((load) => fire(load, connections, warmupSeconds)));
  const stop = sample(pids);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const results = await Promise.all(loads.map((load) => fire(load, connections, durationSeconds)));
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - wallBefore;
  const sampled = await stop();
  // Settled: what the processes keep once the load is gone (garbage collected on their own schedule, not forced).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const after = await rssNow(pids);
  const processes = Object.fromEntries(
    Object.entries(sampled).map(([role, { ctime: _, ...figures }]) => [
      role,
      { ...figures, rssAfterMb: after[role] ?? 0 },
    ]),
  );
  return {
    results: results.map(summarise),
    processes,
    loadGeneratorCpuPercent: round(((cpu.user + cpu.system) / 1000 / wall) * 100),
  };
}

export async function measure(load: Load, options: MeasureOptions): Promise<Measurement> {
  const { results, processes, loadGeneratorCpuPercent } = await measureTogether([load], options);
  return { ...(results[0] as ReturnType<typeof summarise>), processes, loadGeneratorCpuPercent };
}

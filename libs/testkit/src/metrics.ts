/** Reading the Prometheus text format a service's ops port serves on /metrics. */

/**
 * The value of the first sample of `name` in a /metrics `text` whose labels include `labels`; 0 when no such
 * series exists yet (a counter nothing has incremented).
 */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

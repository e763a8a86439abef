import type { HttpClient } from '@todo/testkit';

/** `/readyz` as the ops port answers it. */
export interface Readiness {
  status: string;
  checks: Record<string, string>;
  details: Record<string, string>;
}

/** A service's readiness through its ops client, with the HTTP status beside the body. */
export async function readinessOf(ops: HttpClient): Promise<Readiness & { httpStatus: number }> {
  const res = await ops.get<Readiness>('/readyz');
  return { ...res.body, httpStatus: res.status };
}

/**
 * HTTP for black-box tests. Well-formed calls go through the typed clients of `@todo/client`, built on
 * `checkedFetch`; `httpClient` is a tiny untyped fetch wrapper for what no typed client can send (malformed
 * bodies, wrong content types, unknown paths and methods, odd headers) and for the ops ports. Both hold
 * every response to the same contract check.
 */

export interface TestResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  raw?: string | Uint8Array;
}

/**
 * Checks one exchange against a contract (the service's OpenAPI document) and rejects when the response
 * does not match it, so that every response a test receives is held to the spec.
 */
export type ResponseCheck = (
  request: { method: string; path: string },
  response: { status: number; headers: Headers; body: unknown },
) => Promise<void>;

/** Sends `request` and holds the answer to `contract`; the response comes back unread, its body parsed beside it. */
async function exchange(request: Request, contract: ResponseCheck | undefined) {
  const response = await fetch(request);
  const text = await response.clone().text();
  let body: unknown = text;
  if (/json/.test(response.headers.get('content-type') ?? '') && text) body = JSON.parse(text);
  const { pathname, search } = new URL(request.url);
  await contract?.(
    { method: request.method, path: `${pathname}${search}` },
    { status: response.status, headers: response.headers, body },
  );
  return { response, text, body };
}

/** The `fetch` of a typed client whose every response is held to `contract`. */
export const checkedFetch =
  (contract: ResponseCheck) =>
  async (request: Request): Promise<Response> =>
    (await exchange(request, contract)).response;

/** The Authorization header of a typed client's call: `headers: bearer(user.accessToken)`. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The body of a typed client's successful answer, for the steps that arrange a story; any other answer
 * throws, naming its status and body.
 */
export function dataOf<T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T {
  if (!response.ok || data === undefined) {
    throw new Error(`expected a 2xx with a body, got ${response.status}: ${JSON.stringify(error) ?? '(none)'}`);
  }
  return data;
}

export type HttpClient = ReturnType<typeof httpClient>;

export function httpClient(baseUrl: string, { contract }: { contract?: ResponseCheck } = {}) {
  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Uint8Array | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const sent = new Request(new URL(path, baseUrl), { method, headers, body, redirect: 'manual' });
    const { response, text, body: parsed } = await exchange(sent, contract);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }
  return {
    baseUrl,
    request,
    get: <T = unknown>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
    post: <T = unknown>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('POST', path, { ...options, body }),
    patch: <T = unknown>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('PATCH', path, { ...options, body }),
    put: <T = unknown>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('PUT', path, { ...options, body }),
    delete: <T = unknown>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options),
  };
}

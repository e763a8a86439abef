/**
 * Holds every response a black-box test receives to the service's OpenAPI 3.1 document, so the spec cannot
 * drift from the code without a test noticing. The document is read and every response schema compiled
 * once per spec path; the check itself is then a lookup and a few Ajv calls.
 *
 * What is checked for a documented operation: the status is documented (exactly, by `4XX` range or by
 * `default`), the headers the response marks `required` are present and every documented header that is
 * present matches its schema, the content type is a declared one and the body matches its schema, and a
 * response that declares no content has an empty body. A path or method the spec does not have must be
 * answered with a 404, 405 or 501 problem (`components.schemas.Problem`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import type { ResponseCheck } from './http.ts';

/** Thrown when a response does not match the contract; the message lists every mismatch at once. */
export class ContractViolationError extends Error {
  override readonly name = 'ContractViolationError';
}

type JsonObject = Record<string, unknown>;

interface HeaderSpec {
  name: string;
  required: boolean;
  validate: ValidateFunction | undefined;
}

interface MediaSpec {
  /** Lower-cased, without parameters; may be a range such as `application/*`. */
  mediaType: string;
  validate: ValidateFunction | undefined;
}

interface ResponseSpec {
  key: string;
  headers: HeaderSpec[];
  /** Empty when the response declares no content (204, 304…): the body must then be empty. */
  content: MediaSpec[];
}

interface OperationSpec {
  /** `operation logIn, POST /auth/login`: how failures name the operation. */
  label: string;
  responses: Map<string, ResponseSpec>;
}

interface RouteSpec {
  template: string;
  pattern: RegExp;
  parameterCount: number;
  /** Keyed by upper-case method. */
  operations: Map<string, OperationSpec>;
}

interface Contract {
  specPath: string;
  basePaths: string[];
  routes: RouteSpec[];
  problem: ValidateFunction | undefined;
  /**
   * The document requires authentication for every operation (a top-level `security`), so a service may
   * authenticate before it routes: an unknown path without valid credentials is a 401, not a 404.
   */
  securedEverywhere: boolean;
}

/** The document is added to Ajv under this id so that `#/components/...` refs resolve against it. */
const DOCUMENT_ID = 'https://contract.invalid/openapi.json';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Statuses a service may answer for a path or method its spec does not have. */
const UNROUTED_STATUSES = new Set([404, 405, 501]);
const PROBLEM_MEDIA_TYPE = 'application/problem+json';
const MAX_BODY_CHARS = 1024;

// Ajv and ajv-formats are CommonJS: under NodeNext their default export is the `module.exports` object,
// whose `default` property is the plugin function.
const addFormats = addFormatsModule.default;

const contracts = new Map<string, Contract>();

/**
 * A `ResponseCheck` for `httpClient(url, { contract })` that holds every response to the OpenAPI 3.1
 * document at `specPath` (YAML or JSON). The document is loaded and compiled on the first call for a path;
 * a broken document (unreadable, a dangling `$ref`, an invalid schema) throws here, not in the first test.
 */
export function openApiContract(specPath: string): ResponseCheck {
  const absolute = resolve(specPath);
  let contract = contracts.get(absolute);
  if (!contract) {
    contract = loadContract(absolute);
    contracts.set(absolute, contract);
  }
  const loaded = contract;
  return (request, response) => checkResponse(loaded, request, response);
}

// ---------------------------------------------------------------------------------------------------------
// Loading: read the document once and compile every response schema up front.

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const escapePointerSegment = (segment: string): string => segment.replaceAll('~', '~0').replaceAll('/', '~1');

/** A JSON pointer as a URI fragment: path templates such as `{id}` must be percent-encoded there. */
const pointerToFragment = (pointer: string): string =>
  pointer
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');

function loadContract(specPath: string): Contract {
  let document: unknown;
  try {
    document = parse(readFileSync(specPath, 'utf8'));
  } catch (cause) {
    throw new Error(`Cannot read the OpenAPI document ${specPath}: ${(cause as Error).message}`, { cause });
  }
  if (!isObject(document) || typeof document.openapi !== 'string' || !isObject(document.paths)) {
    throw new Error(`${specPath} is not an OpenAPI document (no "openapi" version or no "paths").`);
  }
  const doc = document;
  const fail = (message: string): never => {
    throw new Error(`${specPath}: ${message}`);
  };

  const valueAt = (pointer: string): unknown => {
    let value: unknown = doc;
    for (const raw of pointer.split('/').slice(1)) {
      const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      value = isObject(value) || Array.isArray(value) ? (value as JsonObject)[segment] : undefined;
    }
    return value;
  };

  /** Follows OpenAPI `$ref`s (responses, headers…) to the object they name, keeping track of where it is. */
  const dereference = (value: unknown, pointer: string): { value: unknown; pointer: string } => {
    const seen = new Set<string>();
    let current = { value, pointer };
    while (isObject(current.value) && typeof current.value.$ref === 'string') {
      const ref = current.value.$ref;
      if (!ref.startsWith('#')) fail(`only local $refs are supported, found "${ref}" at ${current.pointer}`);
      if (seen.has(ref)) fail(`circular $ref "${ref}" at ${current.pointer}`);
      seen.add(ref);
      const target = decodeURIComponent(ref.slice(1));
      const resolved = valueAt(target);
      if (resolved === undefined) fail(`dangling $ref "${ref}" at ${current.pointer}`);
      current = { value: resolved, pointer: target };
    }
    return current;
  };

  const bodies = newAjv(doc, false);
  // Header values are strings on the wire: `Retry-After: 120` must pass `type: integer`.
  const headerValues = newAjv(doc, true);

  const compile = (ajv: Ajv2020, schemaPointer: string, wrap: boolean): ValidateFunction => {
    const ref = { $ref: `${DOCUMENT_ID}#${pointerToFragment(schemaPointer)}` };
    try {
      // Coercion needs a parent to write the coerced value into, so header values are validated as `{ value }`.
      return ajv.compile(wrap ? { type: 'object', properties: { value: ref } } : ref);
    } catch (cause) {
      return fail(`the schema at ${schemaPointer} does not compile: ${(cause as Error).message}`);
    }
  };

  const compileResponse = (key: string, value: unknown, pointer: string): ResponseSpec => {
    const response = dereference(value, pointer);
    if (!isObject(response.value)) return fail(`the response at ${response.pointer} is not an object`);
    const headers: HeaderSpec[] = [];
    if (isObject(response.value.headers)) {
      for (const [name, raw] of Object.entries(response.value.headers)) {
        // OpenAPI: a `Content-Type` entry in `headers` is ignored; `content` says what the type is.
        if (name.toLowerCase() === 'content-type') continue;
        const header = dereference(raw, `${response.pointer}/headers/${escapePointerSegment(name)}`);
        if (!isObject(header.value)) return fail(`the header at ${header.pointer} is not an object`);
        headers.push({
          name,
          required: header.value.required === true,
          validate:
            header.value.schema === undefined ? undefined : compile(headerValues, `${header.pointer}/schema`, true),
        });
      }
    }
    const content: MediaSpec[] = [];
    if (isObject(response.value.content)) {
      for (const [mediaType, media] of Object.entries(response.value.content)) {
        const mediaPointer = `${response.pointer}/content/${escapePointerSegment(mediaType)}`;
        content.push({
          mediaType: essence(mediaType),
          validate:
            isObject(media) && media.schema !== undefined
              ? compile(bodies, `${mediaPointer}/schema`, false)
              : undefined,
        });
      }
    }
    return { key, headers, content };
  };

  const routes: RouteSpec[] = [];
  for (const [template, rawItem] of Object.entries(doc.paths as JsonObject)) {
    const item = dereference(rawItem, `/paths/${escapePointerSegment(template)}`);
    if (!isObject(item.value)) fail(`the path item ${template} is not an object`);
    const operations = new Map<string, OperationSpec>();
    for (const method of HTTP_METHODS) {
      const operation = (item.value as JsonObject)[method];
      if (!isObject(operation)) continue;
      const operationId = typeof operation.operationId === 'string' ? ` ${operation.operationId},` : '';
      const responses = new Map<string, ResponseSpec>();
      const responsesPointer = `${item.pointer}/${method}/responses`;
      if (isObject(operation.responses)) {
        for (const [key, value] of Object.entries(operation.responses)) {
          responses.set(
            key.toUpperCase(),
            compileResponse(key, value, `${responsesPointer}/${escapePointerSegment(key)}`),
          );
        }
      }
      operations.set(method.toUpperCase(), {
        label: `operation${operationId} ${method.toUpperCase()} ${template}`,
        responses,
      });
    }
    routes.push({ template, ...templatePattern(template), operations });
  }
  // OpenAPI: concrete paths match before templated ones (`/todos/mine` before `/todos/{id}`).
  routes.sort((a, b) => a.parameterCount - b.parameterCount || b.template.length - a.template.length);

  const components = isObject(doc.components) ? doc.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};
  const problem = schemas.Problem === undefined ? undefined : compile(bodies, '/components/schemas/Problem', false);

  const securedEverywhere = Array.isArray(doc.security) && doc.security.length > 0;
  return { specPath, basePaths: basePaths(doc.servers), routes, problem, securedEverywhere };
}

function newAjv(document: JsonObject, coerceTypes: boolean): Ajv2020 {
  // strict: false because OpenAPI adds keywords JSON Schema does not know (discriminator, xml, example…).
  const ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes });
  addFormats(ajv);
  // Not validated against the meta-schema: the document as a whole is not a schema, only parts of it are.
  ajv.addSchema(document, DOCUMENT_ID, undefined, false);
  return ajv;
}

/** `/todos/{id}` → a regex over the raw path, one segment per parameter. */
function templatePattern(template: string): { pattern: RegExp; parameterCount: number } {
  let parameterCount = 0;
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      if (/^\{[^}]+\}$/.test(part)) {
        parameterCount += 1;
        return '[^/]+';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { pattern: new RegExp(`^${source}$`), parameterCount };
}

/** Path prefixes of the document's `servers` (`/api` in `https://example.com/api`), which requests carry. */
function basePaths(servers: unknown): string[] {
  if (!Array.isArray(servers)) return [];
  const out: string[] = [];
  for (const server of servers) {
    // A templated server URL cannot be matched without its variables' values; such prefixes are not stripped.
    if (!isObject(server) || typeof server.url !== 'string' || server.url.includes('{')) continue;
    const path = new URL(server.url, 'http://server.invalid').pathname.replace(/\/+$/, '');
    if (path) out.push(path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Checking one exchange.

/** `application/problem+json; charset=utf-8` → `application/problem+json`. */
const essence = (mediaType: string): string => (mediaType.split(';')[0] ?? '').trim().toLowerCase();

function mediaMatches(declared: string, actual: string): boolean {
  if (declared === actual || declared === '*/*') return true;
  return declared.endsWith('/*') && actual.startsWith(declared.slice(0, -1));
}

/** Exact type first, then ranges, as OpenAPI says the most specific key applies. */
function pickMedia(content: MediaSpec[], actual: string): MediaSpec | undefined {
  return (
    content.find((m) => m.mediaType === actual) ??
    content.find((m) => m.mediaType !== '*/*' && mediaMatches(m.mediaType, actual)) ??
    content.find((m) => m.mediaType === '*/*')
  );
}

function pickResponse(operation: OperationSpec, status: number): ResponseSpec | undefined {
  return (
    operation.responses.get(String(status)) ??
    operation.responses.get(`${Math.floor(status / 100)}XX`) ??
    operation.responses.get('DEFAULT')
  );
}

/** The path without query or fragment (and without scheme and host, should a test pass a full URL). */
function pathOf(requestPath: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(requestPath) ? new URL(requestPath).pathname : requestPath;
  return path.split(/[?#]/)[0] ?? '';
}

function findRoute(contract: Contract, path: string): RouteSpec | undefined {
  const candidates = [path];
  for (const base of contract.basePaths) {
    if (path === base || path.startsWith(`${base}/`)) candidates.push(path.slice(base.length) || '/');
  }
  for (const candidate of candidates) {
    const route = contract.routes.find((r) => r.pattern.test(candidate));
    if (route) return route;
  }
  return undefined;
}

const isEmptyBody = (body: unknown): boolean => body === undefined || body === '';

function describeErrors(errors: ErrorObject[] | null | undefined, where: string, dropPrefix = ''): string[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.startsWith(dropPrefix) ? e.instancePath.slice(dropPrefix.length) : e.instancePath;
    // The offending property name is in params, not in the message; it is the useful part.
    const extra = e.keyword === 'additionalProperties' ? ` (${JSON.stringify(e.params.additionalProperty)})` : '';
    return `${where}${path}: ${e.message ?? e.keyword}${extra}`;
  });
}

function showBody(body: unknown): string {
  if (body === undefined) return '(none)';
  const text = typeof body === 'string' ? JSON.stringify(body) : (JSON.stringify(body) ?? String(body));
  if (text.length <= MAX_BODY_CHARS) return text;
  return `${text.slice(0, MAX_BODY_CHARS)}… (${text.length - MAX_BODY_CHARS} more characters)`;
}

function violation(
  what: string,
  request: { method: string; path: string },
  status: number,
  problems: string[],
  body: unknown,
  specPath: string,
): ContractViolationError {
  return new ContractViolationError(
    [
      `${request.method.toUpperCase()} ${request.path} → ${status} breaks ${specPath} (${what}):`,
      ...problems.map((p) => `  - ${p}`),
      `  body: ${showBody(body)}`,
    ].join('\n'),
  );
}

function checkResponse(
  contract: Contract,
  request: { method: string; path: string },
  response: { status: number; headers: Headers; body: unknown },
): void {
  const method = request.method.toUpperCase();
  const path = pathOf(request.path);
  const route = findRoute(contract, path);
  let operation = route?.operations.get(method);
  // HEAD is answered like GET without a body (Koa's router does so) unless the spec documents it.
  const head = method === 'HEAD';
  if (!operation && head) operation = route?.operations.get('GET');
  if (!route || !operation) {
    const what = route ? `no ${method} on ${route.template} in the spec` : `no path ${path} in the spec`;
    checkUnrouted(contract, what, request, response, head);
    return;
  }

  const problems: string[] = [];
  const spec = pickResponse(operation, response.status);
  if (!spec) {
    const documented = [...operation.responses.values()].map((r) => r.key).join(', ');
    problems.push(`status ${response.status} is not documented (documented: ${documented || 'none'})`);
    throw violation(operation.label, request, response.status, problems, response.body, contract.specPath);
  }

  for (const header of spec.headers) {
    const value = response.headers.get(header.name);
    if (value === null) {
      if (header.required) problems.push(`header ${header.name} is required but missing`);
      continue;
    }
    const holder = { value };
    if (header.validate && !header.validate(holder)) {
      problems.push(
        ...describeErrors(header.validate.errors, `header ${header.name} ${JSON.stringify(value)}`, '/value'),
      );
    }
  }

  if (spec.content.length === 0 || head) {
    if (!isEmptyBody(response.body)) {
      problems.push(
        head ? 'a HEAD response must have no body' : `response ${spec.key} declares no content, yet has a body`,
      );
    }
  } else {
    const contentType = response.headers.get('content-type');
    const actual = essence(contentType ?? '');
    const media = pickMedia(spec.content, actual);
    const declared = spec.content.map((m) => m.mediaType).join(', ');
    if (!contentType) problems.push(`no content-type, expected one of: ${declared}`);
    else if (!media) problems.push(`content-type ${contentType} is not one of: ${declared}`);
    else if (media.validate && !media.validate(response.body)) {
      problems.push(...describeErrors(media.validate.errors, 'body'));
    }
  }

  if (problems.length > 0) {
    throw violation(
      `${operation.label}, response ${spec.key}`,
      request,
      response.status,
      problems,
      response.body,
      contract.specPath,
    );
  }
}

/**
 * A path or method the spec does not have: only a 404, 405 or 501 problem is an acceptable answer, or a 401
 * when the whole API requires authentication.
 */
function checkUnrouted(
  contract: Contract,
  what: string,
  request: { method: string; path: string },
  response: { status: number; headers: Headers; body: unknown },
  head: boolean,
): void {
  const problems: string[] = [];
  const unauthenticated = contract.securedEverywhere && response.status === 401;
  if (!UNROUTED_STATUSES.has(response.status) && !unauthenticated) {
    problems.push(
      `expected a 404, 405 or 501 problem${contract.securedEverywhere ? ' (or 401)' : ''}, got status ${response.status}`,
    );
  }
  if (head) {
    if (!isEmptyBody(response.body)) problems.push('a HEAD response must have no body');
  } else {
    const contentType = response.headers.get('content-type');
    if (essence(contentType ?? '') !== PROBLEM_MEDIA_TYPE) {
      problems.push(`content-type ${contentType ?? '(none)'} is not ${PROBLEM_MEDIA_TYPE}`);
    }
    if (!contract.problem) problems.push('the spec has no components.schemas.Problem to hold the body to');
    else if (!contract.problem(response.body)) problems.push(...describeErrors(contract.problem.errors, 'body'));
  }
  if (problems.length > 0) {
    throw violation(what, request, response.status, problems, response.body, contract.specPath);
  }
}

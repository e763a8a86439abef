/**
 * Holds every response a black-box test receives to the service's OpenAPI 3.1 document, so the spec cannot
 * drift from the code without a test noticing. json-schema-ref-parser reads the document and resolves its
 * `$ref`s (one with sibling keywords is merged into its target, the siblings winning: fine for `description`,
 * not for constraints), Ajv (JSON Schema 2020-12, the 3.1 dialect) checks headers and bodies; ours are the rules:
 * the status is documented (exactly, by `4XX` range or by `default`); the headers the response marks
 * `required` are present and every documented header matches its schema; the content type is a declared
 * one and the body matches its schema; a response that declares no content has an empty body. A path or
 * method the spec does not have must be a 404, 405 or 501 problem (or a 401 when every operation requires
 * authentication, as the service may authenticate before it routes).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import type { ResponseCheck } from './http.ts';

/** Thrown when a response does not match the contract; the message lists every mismatch at once. */
export class ContractViolationError extends Error {
  override readonly name = 'ContractViolationError';
}

interface ResponseObject {
  headers?: Record<string, { required?: boolean; schema?: object }>;
  content?: Record<string, { schema?: object }>;
}
interface Document {
  security?: unknown[];
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>;
  components?: { schemas?: { Problem?: object } };
}
// Ajv and ajv-formats are CommonJS: under NodeNext the default export is `module.exports`.
const addFormats = addFormatsModule.default;
const contracts = new Map<string, ReturnType<typeof load>>();

/** The document at `specPath` is read and compiled once per path, on the first check. */
export function openApiContract(specPath: string): ResponseCheck {
  const contract = contracts.get(resolve(specPath)) ?? load(specPath);
  contracts.set(resolve(specPath), contract);
  return async (request, response) => check(specPath, await contract, request, response);
}

async function load(specPath: string) {
  const doc = (await $RefParser.dereference(specPath, parse(await readFile(specPath, 'utf8')))) as unknown as Document;
  // strict: false, because OpenAPI adds keywords JSON Schema does not know (example, discriminator…).
  const bodies = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  // Header values are strings on the wire: `Retry-After: 120` must pass `type: integer`.
  const headerValues = addFormats(new Ajv2020({ strict: false, allErrors: true, coerceTypes: true }));
  const compileResponse = ({ headers = {}, content }: ResponseObject) => {
    const documented = Object.entries(headers);
    return {
      /** Holds `{ [lower-case name]: value }` of every header: the documented ones typed, the required ones present. */
      headers: headerValues.compile({
        type: 'object',
        properties: Object.fromEntries(documented.map(([name, h]) => [name.toLowerCase(), h.schema ?? {}])),
        required: documented.filter(([, h]) => h.required).map(([name]) => name.toLowerCase()),
      }),
      /** By media type; undefined when the response declares no content (its body must be empty). */
      content:
        content &&
        Object.fromEntries(Object.entries(content).map(([type, media]) => [type, bodies.compile(media.schema ?? {})])),
    };
  };
  const routes = Object.entries(doc.paths).map(([template, item]) => ({
    // Concrete paths match before templated ones (`/todos/mine` before `/todos/{id}`).
    parameters: template.split('{').length,
    pattern: new URLPattern({ pathname: template.replaceAll(/\{[^}]+\}/g, (_, at: number) => `:p${at}`) }),
    operations: new Map(
      Object.entries(item)
        .filter(([, operation]) => operation?.responses)
        .map(([method, { responses = {} }]) => [
          method.toUpperCase(),
          new Map(Object.entries(responses).map(([key, value]) => [key, compileResponse(value)])),
        ]),
    ),
  }));
  routes.sort((a, b) => a.parameters - b.parameters);
  return {
    routes,
    problem: bodies.compile(doc.components?.schemas?.Problem ?? false),
    securedEverywhere: (doc.security ?? []).length > 0,
  };
}

const essence = (contentType: string | null) => (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
const errors = (validate: ValidateFunction, dataVar: string) =>
  validate.errors?.map((e) => `${dataVar}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`) ?? [];

async function check(
  specPath: string,
  contract: Awaited<ReturnType<typeof load>>,
  request: { method: string; path: string },
  { status, headers, body }: { status: number; headers: Headers; body: unknown },
): Promise<void> {
  const method = request.method.toUpperCase();
  const pathname = new URL(request.path, 'http://service.invalid').pathname;
  const operation = contract.routes.find((r) => r.pattern.test({ pathname }))?.operations.get(method);
  const problems: string[] = [];
  let content: Record<string, ValidateFunction> | undefined;
  if (!operation) {
    const allowed = [404, 405, 501, ...(contract.securedEverywhere ? [401] : [])];
    if (!allowed.includes(status))
      problems.push(`${method} ${pathname} is not in the spec: expected ${allowed} problem`);
    content = { 'application/problem+json': contract.problem };
  } else {
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => operation.has(k));
    const response = key === undefined ? undefined : operation.get(key);
    if (!response) problems.push(`status ${status} is not documented (documented: ${[...operation.keys()]})`);
    else if (!response.headers(Object.fromEntries(headers))) problems.push(...errors(response.headers, 'headers'));
    content = response?.content;
    if (response && !content && body !== '' && body !== undefined) problems.push('declares no content, yet has a body');
  }
  const type = essence(headers.get('content-type'));
  const validate = content?.[type];
  if (content && !validate) problems.push(`content-type "${type}" is not one of: ${Object.keys(content)}`);
  else if (validate && !validate(body)) problems.push(...errors(validate, 'body'));
  if (problems.length === 0) return;
  const shown = JSON.stringify(body) ?? '(none)';
  throw new ContractViolationError(
    [
      `${method} ${request.path} → ${status} breaks ${specPath}:`,
      ...problems.map((p) => `  - ${p}`),
      `  body: ${shown.length > 1024 ? `${shown.slice(0, 1024)}…` : shown}`,
    ].join('\n'),
  );
}

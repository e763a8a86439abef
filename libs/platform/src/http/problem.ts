/**
 * The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.
 * 4xx bodies say what was wrong; 5xx bodies say nothing internal and the log line has everything.
 */
import type { Middleware } from 'koa';
import { asAppError, DatabaseBusyError, type FieldError, NotFoundError } from '../errors.ts';
import type { RequestState } from './request-context.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem types are tag URIs (RFC 4151): stable identifiers that are not meant to be dereferenced. */
export const problemType = (code: string): string => `tag:todo-platform,2026:problems/${code.replaceAll('_', '-')}`;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

interface HttpLikeError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  message?: unknown;
  headers?: unknown;
  type?: unknown;
}

/** Errors thrown by Koa itself, the router and the body parser carry a status (http-errors). */
const STATUS_PROBLEMS: Record<number, { code: string; title: string; detail?: string }> = {
  400: { code: 'bad_request', title: 'Bad Request' },
  401: { code: 'unauthorized', title: 'Unauthorized' },
  404: { code: 'not_found', title: 'Not Found' },
  405: { code: 'method_not_allowed', title: 'Method Not Allowed' },
  406: { code: 'not_acceptable', title: 'Not Acceptable' },
  411: { code: 'length_required', title: 'Length Required' },
  413: { code: 'payload_too_large', title: 'Content Too Large', detail: 'The request body is too large.' },
  414: { code: 'uri_too_long', title: 'URI Too Long' },
  415: { code: 'unsupported_media_type', title: 'Unsupported Media Type' },
  431: { code: 'headers_too_large', title: 'Request Header Fields Too Large' },
  501: { code: 'not_implemented', title: 'Not Implemented', detail: 'This method is not supported here.' },
};

export function toProblem(err: unknown): { body: ProblemBody; headers: Record<string, string>; internal: boolean } {
  const app = asAppError(err);
  if (app) {
    const body: ProblemBody = {
      type: problemType(app.code),
      title: app.title,
      status: app.status,
      detail: app.message,
    };
    if (app.errors) body.errors = [...app.errors];
    return { body, headers: { ...app.headers }, internal: app.status >= 500 };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpLikeError;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  const known = STATUS_PROBLEMS[status];
  if ((status >= 400 && status < 500 && e.expose !== false) || status === 501) {
    const headers: Record<string, string> = {};
    if (e.headers && typeof e.headers === 'object') {
      for (const [k, v] of Object.entries(e.headers)) if (typeof v === 'string') headers[k] = v;
    }
    // A 400 from a library never passes its message on: a JSON parser quotes the body it choked on (a
    // password with it), a router the raw URL it could not decode. Our own errors are AppErrors.
    const message = typeof e.message === 'string' && e.message ? e.message : undefined;
    const detail =
      e.type === 'entity.parse.failed'
        ? 'The request body is not valid JSON.'
        : status === 400
          ? 'The request is malformed.'
          : (known?.detail ?? message);
    return {
      body: {
        type: problemType(known?.code ?? 'client_error'),
        title: known?.title ?? 'Client Error',
        status,
        detail: detail ?? 'The request could not be processed.',
      },
      headers,
      internal: status >= 500,
    };
  }
  return {
    body: {
      type: problemType('internal'),
      title: 'Internal Server Error',
      status: 500,
      detail: 'An unexpected error occurred. Quote the request id when reporting it.',
    },
    headers: {},
    internal: true,
  };
}

/**
 * Headers that stay true when the request fails: the router sets Allow before throwing its 405, and a CORS
 * grant (`access-control-*`) holds for any answer to that origin, a problem included.
 */
const KEPT_ON_ERROR = new Set(['x-request-id', 'vary', 'allow']);
const keptOnError = (name: string) => KEPT_ON_ERROR.has(name) || name.startsWith('access-control-');

export function problemDetails(): Middleware<RequestState> {
  return async function problemDetailsMiddleware(ctx, next) {
    try {
      await next();
      // A status without a body comes from the router (404, 405 with Allow, 501): give it a problem body too.
      if (ctx.body == null && ctx.status >= 400) {
        if (ctx.status === 404) throw new NotFoundError(`There is no ${ctx.method} ${ctx.path} here.`);
        throw Object.assign(new Error(`${ctx.method} is not allowed on ${ctx.path}.`), {
          status: ctx.status,
          expose: true,
        });
      }
    } catch (err) {
      const { body, headers, internal } = toProblem(err);
      const log = ctx.state.log;
      const app = asAppError(err);
      // Shedding load is no fault to chase: one warning per request (db_pool_checkouts_refused_total counts them).
      if (app instanceof DatabaseBusyError) log?.warn({ problem: body.type }, 'request refused: the database is busy');
      else if (internal) log?.error({ err }, 'request failed');
      // The problem, not the error: a client error's message can quote what the client sent.
      else log?.debug({ problem: body.type, detail: app ? body.detail : undefined }, 'request rejected');
      if (ctx.headerSent || !ctx.writable) return;
      body.requestId = ctx.state.requestId;
      // Drop headers set on the way in (ETag, Location…) that describe a success that did not happen.
      for (const name of Object.keys(ctx.response.headers)) {
        if (!keptOnError(name)) ctx.remove(name);
      }
      ctx.set(headers);
      ctx.status = body.status;
      ctx.type = PROBLEM_CONTENT_TYPE;
      ctx.body = body;
    }
  };
}

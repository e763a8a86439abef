/**
 * The errors a use case may throw. Each has a stable `code` and an HTTP status; the one error
 * middleware turns them into RFC 9457 problem details. Anything else is a bug and becomes a 500.
 */

/** Where in the request a validation failure sits: a JSON pointer into the body, a query parameter or a header. */
export type FieldError = { detail: string } & ({ pointer: string } | { parameter: string } | { header: string });

export interface AppErrorOptions {
  status: number;
  code: string;
  title: string;
  detail: string;
  headers?: Record<string, string>;
  errors?: FieldError[];
  cause?: unknown;
}

export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly errors: readonly FieldError[] | undefined;

  constructor(options: AppErrorOptions) {
    super(options.detail, { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
    this.title = options.title;
    this.headers = options.headers ?? {};
    this.errors = options.errors;
  }
}

export class BadRequestError extends AppError {
  override readonly name = 'BadRequestError';
  constructor(detail: string, code = 'bad_request') {
    super({ status: 400, code, title: 'Bad Request', detail });
  }
}

export class UnauthorizedError extends AppError {
  override readonly name = 'UnauthorizedError';
  /**
   * `challenge` is the WWW-Authenticate value. RFC 6750 §3.1: a request without credentials gets a bare
   * challenge, one with a bad token gets `error="invalid_token"`.
   */
  constructor(detail: string, options: { code?: string; challenge?: string; cause?: unknown } = {}) {
    super({
      status: 401,
      code: options.code ?? 'unauthorized',
      title: 'Unauthorized',
      detail,
      cause: options.cause,
      headers: options.challenge ? { 'WWW-Authenticate': options.challenge } : {},
    });
  }
}

export class ForbiddenError extends AppError {
  override readonly name = 'ForbiddenError';
  constructor(detail: string, code = 'forbidden') {
    super({ status: 403, code, title: 'Forbidden', detail });
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  constructor(detail = 'The requested resource does not exist.') {
    super({ status: 404, code: 'not_found', title: 'Not Found', detail });
  }
}

export class ConflictError extends AppError {
  override readonly name = 'ConflictError';
  constructor(detail: string, code = 'conflict') {
    super({ status: 409, code, title: 'Conflict', detail });
  }
}

export class PreconditionFailedError extends AppError {
  override readonly name = 'PreconditionFailedError';
  constructor(detail: string) {
    super({ status: 412, code: 'precondition_failed', title: 'Precondition Failed', detail });
  }
}

/**
 * The body's media type is not one the route reads. The types it does read go back in the header made for the
 * method: `Accept-Patch` (RFC 5789) for a PATCH, `Accept-Post` (W3C LDP, IANA-registered) for a POST; other
 * methods have none, the detail says it.
 */
export class UnsupportedMediaTypeError extends AppError {
  override readonly name = 'UnsupportedMediaTypeError';
  constructor(detail: string, accepted: readonly string[], method: string) {
    const header = method === 'PATCH' ? 'Accept-Patch' : method === 'POST' ? 'Accept-Post' : undefined;
    super({
      status: 415,
      code: 'unsupported_media_type',
      title: 'Unsupported Media Type',
      detail,
      headers: header ? { [header]: accepted.join(', ') } : {},
    });
  }
}

/**
 * The request is well-formed and valid, but cannot be carried out as it stands (422 with its own code);
 * `errors`, when given, points at the fields to change.
 */
export class UnprocessableError extends AppError {
  override readonly name = 'UnprocessableError';
  constructor(detail: string, code: string, errors?: FieldError[]) {
    super({ status: 422, code, title: 'Unprocessable Content', detail, errors });
  }
}

/**
 * A 422 lists at most this many field errors, the first ones found: enough to fix a request, and a bounded
 * answer to a body with thousands of unknown members.
 */
const MAX_FIELD_ERRORS = 50;

export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  constructor(errors: FieldError[], detail = 'The request is not valid.') {
    const listed = errors.slice(0, MAX_FIELD_ERRORS);
    super({
      status: 422,
      code: 'validation_failed',
      title: 'Unprocessable Content',
      detail:
        listed.length < errors.length
          ? `${detail} The first ${listed.length} of ${errors.length} errors are listed.`
          : detail,
      errors: listed,
    });
  }
}

export class TooManyRequestsError extends AppError {
  override readonly name = 'TooManyRequestsError';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, detail = 'Too many attempts. Try again later.') {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super({
      status: 429,
      code: 'rate_limited',
      title: 'Too Many Requests',
      detail,
      headers: { 'Retry-After': String(seconds) },
    });
    this.retryAfterSeconds = seconds;
  }
}

export class ServiceUnavailableError extends AppError {
  override readonly name = 'ServiceUnavailableError';
  constructor(detail: string, options: { code?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super({
      status: 503,
      code: options.code ?? 'unavailable',
      title: 'Service Unavailable',
      detail,
      cause: options.cause,
      headers: options.retryAfterSeconds ? { 'Retry-After': String(Math.ceil(options.retryAfterSeconds)) } : {},
    });
  }
}

/**
 * Every pooled database connection stayed busy: the request waited DATABASE_ACQUIRE_TIMEOUT_MS for one, or
 * found DATABASE_POOL_MAX_WAITING queries already waiting, and did nothing. Load, not a fault: the database
 * answers, it is just fully used (an unreachable one fails as its connections do).
 */
export class DatabaseBusyError extends AppError {
  override readonly name = 'DatabaseBusyError';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, cause?: unknown) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super({
      status: 503,
      code: 'database_busy',
      title: 'Service Unavailable',
      detail: 'The service is busy right now; nothing was done. Try again after Retry-After seconds.',
      headers: { 'Retry-After': String(seconds) },
      cause,
    });
    this.retryAfterSeconds = seconds;
  }
}

/**
 * The AppError `err` is, or carries. MikroORM rethrows some failed pool checkouts as its own DriverException,
 * which copies the original error's fields (`code`, `retryAfterSeconds`…) but not its class, so a refusal
 * by the busy pool is recognised by its code.
 */
export function asAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const copied = err instanceof Error ? (err as { code?: unknown; retryAfterSeconds?: unknown }) : undefined;
  if (copied?.code !== 'database_busy') return undefined;
  return new DatabaseBusyError(typeof copied.retryAfterSeconds === 'number' ? copied.retryAfterSeconds : 1, err);
}

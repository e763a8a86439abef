/**
 * RFC 6749 §5.2 error responses: the one exception to problem+json, for the OAuth endpoints only. Every client
 * error (4xx) raised under them becomes `{"error", "error_description"}` with `Cache-Control: no-store`; this
 * is the one mapping from the service's typed errors to OAuth's codes:
 *
 * | raised                                                  | answer                                          |
 * | ------------------------------------------------------- | ----------------------------------------------- |
 * | `invalid_credentials`, `email_not_verified` (log-in), `invalid_grant` (refresh) | 400 `invalid_grant` |
 * | `invalid_client`                                        | its status (400; 401 with its challenge when the client tried HTTP authentication) |
 * | `unsupported_grant_type`, `invalid_scope`, `invalid_request` | 400, the same code                         |
 * | `rate_limited`                                          | 429 `rate_limited`, `Retry-After` and the RateLimit headers kept |
 * | a body over the limit                                   | 413 `invalid_request`                           |
 * | anything else 4xx: invalid or missing fields, a body that is not a form, a malformed one | 400 `invalid_request` |
 *
 * RFC 6749 has no code for "too many attempts" and none of the registered ones means it, hence
 * `rate_limited`, the problem code the JSON routes use. A 5xx is left to the one error sink, which logs it
 * and answers problem+json: OAuth defines no body for it and clients read none.
 */
import { AppError } from '@todo/platform/errors';
import { type RequestState, toProblem } from '@todo/platform/http';
import type { Middleware } from 'koa';

interface OAuthErrorBody {
  error: string;
  error_description: string;
}

/** Codes the routes raise as they are (RFC 6749 §5.2, RFC 7009 §2.2.1). */
const OAUTH_CODES = new Set(['invalid_request', 'invalid_client', 'invalid_scope', 'unsupported_grant_type']);
/** The use cases' ways of saying the grant is no good. */
const GRANT_REFUSED = new Set(['invalid_credentials', 'invalid_grant', 'email_not_verified']);
/** Headers of a refusal that stay true as OAuth answers. */
const KEPT_HEADERS = ['retry-after', 'www-authenticate'];

function classify(code: string | undefined, status: number): { status: number; error: string } {
  if (code !== undefined && GRANT_REFUSED.has(code)) return { status: 400, error: 'invalid_grant' };
  if (code === 'invalid_client') return { status, error: code };
  if (code !== undefined && OAUTH_CODES.has(code)) return { status: 400, error: code };
  if (status === 429) return { status, error: 'rate_limited' };
  if (status === 413) return { status, error: 'invalid_request' };
  return { status: 400, error: 'invalid_request' };
}

/** What was wrong, naming each invalid parameter (a form field here, so its pointer is just its name). */
function describe(err: unknown, detail: string): string {
  if (!(err instanceof AppError) || !err.errors?.length) return detail;
  const fields = err.errors.map((e) => `${'pointer' in e ? e.pointer.slice(1) || 'body' : ''}: ${e.detail}`);
  return `${detail} ${fields.join(' ')}`;
}

/** RFC 6749 §5.2: `error_description` is printable ASCII without `"` and `\`. */
const asDescription = (text: string) => text.replaceAll('"', "'").replaceAll(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');

export function oauthErrors(): Middleware<RequestState> {
  return async function oauthErrorsMiddleware(ctx, next) {
    try {
      await next();
    } catch (err) {
      const { body: problem, headers, internal } = toProblem(err);
      if (internal) throw err;
      const { status, error } = classify(err instanceof AppError ? err.code : undefined, problem.status);
      const description = asDescription(describe(err, problem.detail));
      ctx.state.log?.debug({ oauthError: error, status, description }, 'request rejected');
      ctx.status = status;
      for (const [name, value] of Object.entries(headers)) {
        if (KEPT_HEADERS.includes(name.toLowerCase())) ctx.set(name, value);
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Pragma', 'no-cache');
      ctx.body = { error, error_description: description } satisfies OAuthErrorBody;
    }
  };
}

/**
 * Which failures to open a PostgreSQL connection are worth waiting out. A compute waking from zero, a server
 * restarting or a pooler that cannot reach it yet refuses or resets connections for a few seconds: retried.
 * A wrong password, a missing database or role, a parameter the server refuses, a certificate that does not
 * verify: no retry fixes those, so start-up stops at once with one line that names the problem.
 */

/** SQLSTATEs that no retry fixes: invalid authorization (class 28), no such database, no CONNECT right. */
const PERMANENT_SQLSTATES = new Set(['28000', '28P01', '3D000', '42501']);

/**
 * PgBouncer reports its own refusals as 08P01 protocol_violation, and Neon's proxy its own with codes of its
 * choosing, the permanent ones and the passing ones ("no more connections allowed", "query_wait_timeout",
 * "couldn't connect to compute node") alike: told apart by their text.
 */
const PERMANENT_POOLER_MESSAGES = [
  /unsupported startup parameter/i,
  /no such (database|user)/i,
  /password authentication failed/i,
  /SSL required/i,
  /endpoint (is disabled|could not be found|not found)/i,
];

/** Node's codes for a TLS handshake that did not verify (the certificate, its chain, its name, its dates). */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Plain errors pg throws with a message only. */
const PERMANENT_CLIENT_MESSAGES = [/does not support SSL connections/i];

interface ErrorLike {
  code?: string;
  message?: string;
  cause?: unknown;
}

/** What about a connection attempt's error makes it permanent, or undefined when it may pass. */
export function permanentConnectionProblem(err: unknown): string | undefined {
  for (let e = err as ErrorLike | undefined; e && typeof e === 'object'; e = e.cause as ErrorLike | undefined) {
    const { code = '', message = '' } = e;
    if (PERMANENT_SQLSTATES.has(code)) return `the server refused the connection (SQLSTATE ${code}): ${message}`;
    if (PERMANENT_POOLER_MESSAGES.some((m) => m.test(message))) {
      return `the server or pooler refused the connection: ${message}`;
    }
    if (CERTIFICATE_CODES.has(code)) return `the server's TLS certificate did not verify (${code}): ${message}`;
    if (code === 'ENOTFOUND') return `the database host does not resolve: ${message}`;
    if (code === 'ENOENT' || code === 'EACCES') return `a file named in the connection settings: ${message}`;
    if (PERMANENT_CLIENT_MESSAGES.some((m) => m.test(message))) return message;
  }
  return undefined;
}

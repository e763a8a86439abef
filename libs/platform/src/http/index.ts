export { type ApiAppDeps, createApiApp } from './api-app.ts';
export { type ApiDocsOptions, apiDocs } from './api-docs.ts';
export { clientKey } from './client-address.ts';
export { perClientLimit } from './client-limit.ts';
export { cors } from './cors.ts';
export { formBody } from './form-body.ts';
export { jsonBody } from './json-body.ts';
export { createMetrics, type HttpMetrics } from './metrics.ts';
export { createOpsApp, type OpsAppOptions, type ReadinessCheck, type ReadinessDetail } from './ops.ts';
export { PROBLEM_CONTENT_TYPE, type ProblemBody, problemDetails, problemType, toProblem } from './problem.ts';
export {
  type LimitState,
  RateLimitReport,
  type RateLimitState,
  rateLimitHeaders,
  takePoint,
} from './rate-limits.ts';
export { type RequestState, requestContext } from './request-context.ts';
export { apiSecurityHeaders } from './security-headers.ts';
export { type ServeConfig, type Served, type ServeOptions, serve } from './serve.ts';
export { listen, type RunningServer } from './server.ts';
export { trustedProxies } from './trusted-proxies.ts';
export {
  codePointLength,
  mergePatchOf,
  parseBody,
  parseHeaders,
  parseQuery,
  plainText,
  withoutDefaults,
} from './validate.ts';

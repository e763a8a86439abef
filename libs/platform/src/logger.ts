/**
 * Structured JSON logs (pino). Credentials never reach a log line: headers that carry them and every
 * body field that could hold a password or token are censored at the serializer. A line written while a
 * span is active carries its `trace_id` and `span_id`, so a trace leads to its logs and back.
 */
import { trace } from '@opentelemetry/api';
import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.access_token',
  '*.refresh_token',
  '*.token',
  '*.secret',
  '*.kek',
  '*.privateKey',
];

/** Returned when no span is active (always, with tracing off): the line is written as it is, nothing copied. */
const UNTRACED = Object.freeze({});

function traceFields(): object {
  const span = trace.getActiveSpan();
  if (!span) return UNTRACED;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

const withTraceFields = (line: object, fields: object): object =>
  fields === UNTRACED ? line : Object.assign(fields, line);

export interface LoggerOptions {
  service: string;
  level: LevelWithSilent;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
}

export function createLogger({ service, level, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
      mixinMergeStrategy: withTraceFields,
    },
    destination,
  );
}

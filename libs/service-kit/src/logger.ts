import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Paths pino removes from every log line. Tokens, secrets and signatures never reach a log
 * (issue: a token never appears in a response, a log line or an error).
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-gitlab-token"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-gitee-token"]',
  'req.headers["x-ops-signature"]',
  'req.headers["webhook-signature"]',
  "headers.authorization",
  "token",
  "*.token",
  "*.*.token",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "webhookSecret",
  "*.webhookSecret",
  "*.*.webhookSecret",
  "privateToken",
  "*.privateToken",
  "auth",
  "*.auth",
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Where lines go (stdout by default); tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}

/** A child logger carrying the correlationId of the request or message being handled. */
export function withCorrelation(
  log: Logger,
  correlationId: string,
  extra: Record<string, unknown> = {},
): Logger {
  return log.child({ correlationId, ...extra });
}

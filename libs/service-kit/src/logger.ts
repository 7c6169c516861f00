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

/**
 * A URL as it may be logged: an `access_token` query parameter (the way `GET /events` takes a token
 * from a browser's EventSource) is replaced, wherever a URL is logged.
 */
function loggableUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, "$1[redacted]");
}

function loggableRequest(req: unknown): unknown {
  if (!req || typeof req !== "object") return req;
  const r = req as { method?: unknown; url?: unknown };
  return { method: r.method, url: typeof r.url === "string" ? loggableUrl(r.url) : r.url };
}

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
      serializers: {
        err: pino.stdSerializers.err,
        url: (url: unknown) => (typeof url === "string" ? loggableUrl(url) : url),
        req: loggableRequest,
      },
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

import { z } from "zod";

/**
 * Limits of the REST API that more than one process enforces: the owning service, and the gateway in
 * front of it, which refuses what the service would refuse without holding a connection to it
 * (docs/services/gateway.md).
 */

/** Largest request body a route accepts unless it says otherwise (413, code 9004). */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Largest webhook delivery accepted by default (GitHub sends up to 25 MB, push payloads are far
 * smaller); dev-svc and the gateway both read WEBHOOK_BODY_LIMIT_BYTES to change it.
 */
const DEFAULT_WEBHOOK_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/** WEBHOOK_BODY_LIMIT_BYTES as dev-svc and the gateway read it (one rule, so both refuse alike). */
export const WebhookBodyLimitBytes = z.coerce
  .number()
  .int()
  .min(1024)
  .max(25 * 1024 * 1024)
  .default(DEFAULT_WEBHOOK_BODY_LIMIT_BYTES);

/**
 * The header that makes a create idempotent (`POST /apps`, `/iterations`, `/credentials`): a repeat
 * within IDEMPOTENCY_WINDOW_HOURS with the same key returns the first answer and creates nothing.
 */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const IDEMPOTENCY_WINDOW_HOURS = 24;
/** A key is 1-255 visible ASCII characters (a UUID is the usual choice). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The headers of an idempotent create: the key, optional (other headers pass untouched). */
export const IdempotencyHeaders = z.looseObject({
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN, "must be 1-255 visible ASCII characters (a UUID, say)")
    .optional()
    .meta({
      description: `Makes the create safe to retry: a repeat within ${IDEMPOTENCY_WINDOW_HOURS} h with the same key (per team) returns the first answer (with \`Idempotent-Replayed: true\`) and creates nothing; the same key with a different body is 9010 (422).`,
      examples: ["7f9c2ba4-e88f-4c6a-9e11-0c8a3b1d2e4f"],
    }),
});

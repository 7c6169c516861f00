import { OPS_REPLAY_WINDOW_SECONDS } from "@procode/contracts";
import { hmacSha256Hex, safeEqual } from "@procode/service-kit";

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * The ops module signs `<timestamp>.<raw body>` with HMAC-SHA256 and the shared secret,
 * sends `x-ops-signature: sha256=<hex>` and `x-ops-timestamp: <unix seconds>`; the timestamp must
 * be within five minutes of our clock (either way), so a captured callback cannot be replayed later.
 */
export function checkOpsSignature(input: {
  secret: string;
  rawBody: string;
  signature: string | string[] | undefined;
  timestamp: string | string[] | undefined;
  nowSeconds: number;
}): SignatureCheck {
  const { signature, timestamp } = input;
  if (typeof signature !== "string" || signature.length === 0) {
    return { ok: false, reason: "x-ops-signature header is missing" };
  }
  if (typeof timestamp !== "string" || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: "x-ops-timestamp header is missing or not unix seconds" };
  }
  if (Math.abs(input.nowSeconds - Number(timestamp)) > OPS_REPLAY_WINDOW_SECONDS) {
    return {
      ok: false,
      reason: `x-ops-timestamp is more than ${OPS_REPLAY_WINDOW_SECONDS} s away from now`,
    };
  }
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signature.trim());
  if (!match) return { ok: false, reason: "x-ops-signature must be sha256=<64 hex digits>" };
  const expected = hmacSha256Hex(input.secret, `${timestamp}.${input.rawBody}`);
  if (!safeEqual(expected, match[1]!.toLowerCase())) {
    return { ok: false, reason: "x-ops-signature does not match the body" };
  }
  return { ok: true };
}

import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkOpsSignature } from "../src/http/callback-signature.js";

const secret = "shared-secret-0123456789";
const body = '{"deployId":"d-1","status":"SUCCESS","message":"","timestamp":"2026-03-01T10:00:00Z"}';
const now = 1_770_000_000;
const sign = (ts: number, raw = body, key = secret) =>
  `sha256=${createHmac("sha256", key).update(`${ts}.${raw}`).digest("hex")}`;

describe("callback signature", () => {
  it("accepts HMAC-SHA256 over <timestamp>.<raw body> within five minutes either way", () => {
    for (const ts of [now, now - 300, now + 300]) {
      expect(
        checkOpsSignature({
          secret,
          rawBody: body,
          signature: sign(ts),
          timestamp: String(ts),
          nowSeconds: now,
        }),
      ).toEqual({
        ok: true,
      });
    }
    const upper = `sha256=${sign(now).slice(7).toUpperCase()}`;
    expect(
      checkOpsSignature({ secret, rawBody: body, signature: upper, timestamp: String(now), nowSeconds: now })
        .ok,
    ).toBe(true);
  });

  it.each([
    ["missing signature", { signature: undefined }, /x-ops-signature header is missing/],
    ["missing timestamp", { timestamp: undefined }, /x-ops-timestamp header is missing/],
    ["timestamp not a number", { timestamp: "yesterday" }, /not unix seconds/],
    ["timestamp too old", { timestamp: String(now - 301), signature: sign(now - 301) }, /more than 300 s/],
    [
      "timestamp too far ahead",
      { timestamp: String(now + 301), signature: sign(now + 301) },
      /more than 300 s/,
    ],
    ["other secret", { signature: sign(now, body, "another-secret-000000") }, /does not match/],
    ["other body", { rawBody: body.replace("SUCCESS", "FAILED") }, /does not match/],
    ["signature for another timestamp", { signature: sign(now - 1) }, /does not match/],
    ["no sha256= prefix", { signature: sign(now).slice(7) }, /sha256=<64 hex digits>/],
    ["repeated header", { signature: [sign(now), sign(now)] }, /header is missing/],
  ])("refuses %s", (_what, over, reason) => {
    const result = checkOpsSignature({
      secret,
      rawBody: body,
      signature: sign(now),
      timestamp: String(now),
      nowSeconds: now,
      ...over,
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
  });
});

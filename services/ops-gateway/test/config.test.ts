import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@procode/service-kit";
import { Config } from "../src/config.js";

const base = { AUTH_JWT_SECRET: "0123456789abcdef0123", OPS_CALLBACK_SECRET: "callback-secret-0123" };

describe("ops-gateway configuration", () => {
  it("has working defaults besides the callback secret", () => {
    const c = loadConfig(Config, base);
    expect(c).toMatchObject({
      PORT: 8084,
      OPS_BASE_URL: "http://127.0.0.1:8090",
      OPS_TIMEOUT_MS: 10_000,
      OPS_LEASE_MS: 30_000,
    });
    expect(c.OPS_REPLICA_ID).toMatch(/^[A-Za-z0-9._:-]+$/);
    expect(c.OPS_POLL_INTERVAL_MS).toBeUndefined();
    expect(loadConfig(Config, { ...base, OPS_BASE_URL: "http://ops.internal:8090/" }).OPS_BASE_URL).toBe(
      "http://ops.internal:8090",
    );
  });

  it.each([
    [{ OPS_CALLBACK_SECRET: undefined }, /OPS_CALLBACK_SECRET/],
    [{ OPS_CALLBACK_SECRET: "short" }, /OPS_CALLBACK_SECRET: must be at least 16 characters/],
    [{ OPS_BASE_URL: "not a url" }, /OPS_BASE_URL/],
    [{ OPS_TIMEOUT_MS: "20000", OPS_LEASE_MS: "15000" }, /OPS_LEASE_MS: must exceed OPS_TIMEOUT_MS/],
    [{ OPS_RETRY_BASE_MS: "5000", OPS_RETRY_MAX_MS: "1000" }, /OPS_RETRY_MAX_MS: must be at least/],
    [{ OPS_REPLICA_ID: "has spaces" }, /OPS_REPLICA_ID/],
    [{ OPS_POLL_INTERVAL_MS: "1" }, /OPS_POLL_INTERVAL_MS/],
  ])("stops with a message naming the variable: %j", (over, message) => {
    expect(() => loadConfig(Config, { ...base, ...over })).toThrow(ConfigError);
    expect(() => loadConfig(Config, { ...base, ...over })).toThrow(message);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefusalLimit } from "../src/http/refusal-limit.js";
import { callbackBody, signedHeaders } from "./support/engine.js";
import { startOpsFlow, type OpsFlow } from "./support/flow.js";

/**
 * The callback's per-address limit counts refused calls only: the ops module, one address calling
 * back for every deployment, is never slowed; a caller guessing signatures is stopped.
 */
const SECRET = "ops-callback-secret-for-tests-0002";
const LIMIT = 3;
let flow: OpsFlow;

beforeAll(async () => {
  flow = await startOpsFlow("ops_limit", SECRET, {
    PUBLIC_RATE_LIMIT_MAX: String(LIMIT),
    PUBLIC_RATE_LIMIT_WINDOW_MS: "600000",
  });
});
afterAll(() => flow?.close());

async function post(raw: string, headers: Record<string, string>) {
  const res = await fetch(`${flow.gw.url}/deploy/callback`, { method: "POST", headers, body: raw });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
}

describe("the callback's per-address limit", () => {
  it("never counts accepted callbacks, and stops an address after its refusals", async () => {
    await flow.ops.forApp(301, { callback: "off", durationMs: 60_000 });
    await flow.engine.requestDeploy({ pipelineId: 301, appId: 301, pollInterval: 120 });
    const deployId = await flow.engine.whenStarted(301);

    // Far more signed callbacks than the limit: every one accepted.
    const raw = callbackBody(deployId, "RUNNING", "still going");
    for (let i = 0; i < LIMIT * 4; i++) {
      expect((await post(raw, signedHeaders(SECRET, raw))).status, `signed callback ${i + 1}`).toBe(200);
    }

    // Forged ones: refused up to the limit, then the address is answered 429, even when it signs.
    for (let i = 0; i < LIMIT; i++) {
      expect((await post(raw, signedHeaders("not-the-secret-000000000000", raw))).status).toBe(401);
    }
    const limited = await post(raw, signedHeaders("not-the-secret-000000000000", raw));
    expect(limited).toMatchObject({ status: 429, body: { code: 5006, data: null } });
    expect(limited.body.message).toMatch(/^too many requests from this address; retry in \d+ s$/);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect((await post(raw, signedHeaders(SECRET, raw))).status).toBe(429);
  });
});

describe("RefusalLimit", () => {
  it("blocks an address after max refusals within the window, and lets it go when the window ends", () => {
    const limit = new RefusalLimit({ max: 2, windowMs: 10_000 });
    limit.refused("a", 0);
    expect(limit.blockedFor("a", 1)).toBe(0);
    limit.refused("a", 2);
    expect(limit.blockedFor("a", 3)).toBe(10);
    expect(limit.blockedFor("b", 3)).toBe(0);
    expect(limit.blockedFor("a", 10_000)).toBe(0);
    limit.refused("a", 10_001);
    expect(limit.blockedFor("a", 10_002)).toBe(0);
  });
});

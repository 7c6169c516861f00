import net from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@procode/service-kit";
import { createGateway } from "../src/gateway.js";
import type { Upstream } from "../src/routes.js";

interface Seen {
  upstream: string;
  method: string;
  url: string;
  body: string;
  headers: Record<string, unknown>;
}

const seen: Seen[] = [];
const upstreamServers: FastifyInstance[] = [];
let gateway: Awaited<ReturnType<typeof createGateway>>;
let base: string;

/** A request to the gateway over a real socket. */
async function call(
  method: string,
  url: string,
  init: { headers?: Record<string, string>; body?: string } = {},
) {
  const res = await fetch(`${base}${url}`, { method, headers: init.headers, body: init.body });
  const text = await res.text();
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), json: () => JSON.parse(text) };
}

/** A real HTTP server that records what reached it, standing where a service listens. */
async function recordingServer(name: string): Promise<string> {
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_r, body, done) => done(null, body));
  app.all("/*", async (request, reply) => {
    // The gateway's own calls (readiness, the API document) are not what the routing tests look at.
    if (request.url === "/readyz" || request.url === "/openapi.json") {
      return reply.status(201).send({ code: 0, message: "success", data: null });
    }
    // A service that takes its time (a caller may give up first).
    if (request.url.includes("slow=1")) await new Promise((r) => setTimeout(r, 400));
    seen.push({
      upstream: name,
      method: request.method,
      url: request.url,
      body: typeof request.body === "string" ? request.body : "",
      headers: request.headers,
    });
    return reply.status(201).header("x-upstream", name).send({ code: 0, message: "success", data: { name } });
  });
  upstreamServers.push(app);
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  const upstreams: Record<Upstream, string> = {
    "app-svc": await recordingServer("app-svc"),
    "dev-svc": await recordingServer("dev-svc"),
    "pipeline-engine": await recordingServer("pipeline-engine"),
    "ops-gateway": `http://127.0.0.1:${await closedPort()}`,
  };
  gateway = await createGateway({
    upstreams,
    log: createLogger({ name: "gateway", level: "silent" }),
    timeoutMs: 2000,
    publicBaseUrl: "https://procode.example.com",
    bodyLimits: { default: 1024 * 1024, webhooks: 5 * 1024 * 1024 },
    bodyTimeoutMs: 5000,
  });
  base = await gateway.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  await gateway?.close();
  for (const s of upstreamServers) await s.close();
});

describe("gateway routing", () => {
  it.each([
    ["POST", "/apps", "app-svc"],
    ["GET", "/apps?page=2&devMode=pro-code", "app-svc"],
    ["GET", "/apps/12", "app-svc"],
    ["PUT", "/apps/12/procode-config", "app-svc"],
    ["GET", "/apps/12/iterations?status=DRAFT", "dev-svc"],
    ["GET", "/apps/12/repo", "dev-svc"],
    ["GET", "/apps/12/repo/branches", "dev-svc"],
    ["GET", "/apps/12/webide?branch=main", "dev-svc"],
    ["POST", "/iterations", "dev-svc"],
    ["POST", "/iterations/4/release", "dev-svc"],
    ["POST", "/credentials", "dev-svc"],
    ["DELETE", "/credentials/abc", "dev-svc"],
    ["POST", "/webhooks/gitlab/12", "dev-svc"],
    ["GET", "/pipelines/789", "pipeline-engine"],
    ["GET", "/pipelines?refId=4&type=PHASE", "pipeline-engine"],
    ["POST", "/pipelines/789/resume", "pipeline-engine"],
  ] as const)("%s %s goes to %s unchanged", async (method, url, upstream) => {
    const before = seen.length;
    const res = await call(method, url, { headers: { authorization: "Bearer t" } });
    expect(res.statusCode).toBe(201);
    expect(res.headers["x-upstream"]).toBe(upstream);
    const got = seen[before]!;
    expect(got).toMatchObject({ upstream, method, url });
    expect(got.headers["authorization"]).toBe("Bearer t");
    expect(typeof got.headers["x-correlation-id"]).toBe("string");
  });

  it("passes bodies through byte for byte, so signatures over the raw body still verify", async () => {
    const raw = '{ "deployId":"d-1",  "status":"SUCCESS" ,"x":"\\u00e9" }';
    const before = seen.length;
    await call("POST", "/webhooks/github/3", {
      headers: { "content-type": "application/json", "x-hub-signature-256": "sha256=abc" },
      body: raw,
    });
    expect(seen[before]!.body).toBe(raw);
    expect(seen[before]!.headers["x-hub-signature-256"]).toBe("sha256=abc");
  });

  it("keeps a caller's correlation id", async () => {
    const before = seen.length;
    const res = await call("GET", "/apps", { headers: { "x-correlation-id": "abc-123" } });
    expect(seen[before]!.headers["x-correlation-id"]).toBe("abc-123");
    expect(res.statusCode).toBe(201);
  });

  it("answers 503 in the envelope when the owning service is down", async () => {
    const res = await call("POST", "/deploy/callback", { body: "{}" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      code: 9003,
      message: "ops-gateway is unavailable; retry later",
      data: null,
    });
  });

  it("answers an unknown path with 404 in the envelope", async () => {
    const res = await call("GET", "/nothing/here");
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 9002, message: "no route GET /nothing/here", data: null });
  });
});

describe("the gateway's own routes", () => {
  it("answers /readyz with each upstream's readiness, 503 naming the ones that are not ready", async () => {
    const res = await call("GET", "/readyz");
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toMatchObject({
      code: 9003,
      message: "not ready: ops-gateway not ready",
      data: {
        status: "not-ready",
        checks: { "app-svc": { ok: true }, "dev-svc": { ok: true }, "pipeline-engine": { ok: true } },
      },
    });
    expect(body.data.checks["ops-gateway"].ok).toBe(false);
  });

  it("answers /openapi.json with 503 naming the services whose documents it could not get", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      code: 9003,
      message:
        "the API document is incomplete: app-svc, dev-svc, pipeline-engine, ops-gateway did not answer; retry later",
      data: null,
    });
  });

  it("serves Prometheus metrics with the requests it passed on, by owning service", async () => {
    await call("GET", "/pipelines/5", { headers: { authorization: "Bearer t" } });
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="\/pipelines\/\*",upstream="pipeline-engine",status="201"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/gateway_upstream_errors_total\{[^}]*upstream="ops-gateway"[^}]*\} [1-9]/);
  });

  it("takes a caller that goes away before the answer for neither an error of its own nor of the service", async () => {
    // A counter not incremented yet has no line: 0.
    const metric = async (pattern: RegExp) =>
      Number(pattern.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0);
    const internal = /gateway_refused_total\{[^}]*reason="INTERNAL"[^}]*\} (\d+)/;
    const upstreamDown = /gateway_upstream_errors_total\{[^}]*upstream="app-svc"[^}]*\} (\d+)/;
    const before = { internal: await metric(internal), upstream: await metric(upstreamDown) };
    await expect(
      fetch(`${base}/apps?slow=1`, {
        headers: { authorization: "Bearer t" },
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    // With a body, read to its end by the gateway before the caller leaves: the service's answer
    // then finds the caller's connection closed.
    await expect(
      fetch(`${base}/apps?slow=1`, {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "application/json" },
        body: JSON.stringify({ name: "left" }),
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toThrow();
    // The service answers 300 ms later, to a gateway whose caller has gone.
    await new Promise((r) => setTimeout(r, 700));
    expect(await metric(internal)).toBe(before.internal);
    expect(await metric(upstreamDown)).toBe(before.upstream);
    // The gateway serves on.
    expect((await call("GET", "/apps/12")).statusCode).toBe(201);
  });

  it("serves the API reference page at /docs, with its script, without a token", async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/"url":\s*"\/openapi\.json"/);
    expect(html).toContain("<title>Pro-code API</title>");
    const src = /<script src="([^"]+)"/.exec(html)?.[1];
    expect(src).toBeDefined();
    const script = await fetch(new URL(src!, page.url));
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
  });
});

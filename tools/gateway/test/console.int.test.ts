import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@procode/service-kit";
import { createGateway } from "../src/gateway.js";

/**
 * The web console at `/`: a browser navigation to one of its pages gets index.html (a deep link
 * survives a reload), the same path asked for JSON still reaches the API, and other paths keep
 * their 404 envelope.
 */
let dir: string;
let upstream: FastifyInstance;
const gateways: Awaited<ReturnType<typeof createGateway>>[] = [];
let base: string;
let unbuilt: string;
const html = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };

async function start(consoleDir: string): Promise<string> {
  const target = `http://127.0.0.1:${(upstream.server.address() as { port: number }).port}`;
  const g = await createGateway({
    upstreams: { "app-svc": target, "dev-svc": target, "pipeline-engine": target, "ops-gateway": target },
    log: createLogger({ name: "gateway", level: "silent" }),
    timeoutMs: 2000,
    publicBaseUrl: "http://127.0.0.1",
    consoleDir,
  });
  gateways.push(g);
  return g.listen({ port: 0, host: "127.0.0.1" });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "procode-console-dist-"));
  mkdirSync(path.join(dir, "assets"));
  writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Pro-code</title>");
  writeFileSync(path.join(dir, "assets", "index-abc123.js"), "console.log(1)");
  upstream = Fastify();
  upstream.all("/*", async (request) => ({ code: 0, message: "success", data: { url: request.url } }));
  await upstream.listen({ port: 0, host: "127.0.0.1" });
  base = await start(dir);
  unbuilt = await start(path.join(dir, "missing"));
});

afterAll(async () => {
  for (const g of gateways) await g.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the console at /", () => {
  it.each(["/", "/sign-in", "/apps/7", "/apps/7/iterations", "/iterations/3", "/pipelines/42?stage=BUILD"])(
    "answers a browser navigation to %s with the console",
    async (url) => {
      const res = await fetch(`${base}${url}`, { headers: html });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await res.text()).toContain("<title>Pro-code</title>");
    },
  );

  it("passes the same paths asked for JSON to the API", async () => {
    const res = await fetch(`${base}/pipelines/42`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ code: 0, message: "success", data: { url: "/pipelines/42" } });
    const plain = await fetch(`${base}/apps/7`);
    expect(((await plain.json()) as { data: { url: string } }).data.url).toBe("/apps/7");
  });

  it("keeps the 404 envelope for paths that are no page, even for a browser", async () => {
    const res = await fetch(`${base}/nothing/here`, { headers: html });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 9002, message: "no route GET /nothing/here", data: null });
    const post = await fetch(`${base}/`, { method: "POST", headers: html });
    expect(post.status).toBe(404);
  });

  it("serves the hashed assets, cached for good", async () => {
    const res = await fetch(`${base}/assets/index-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(await res.text()).toBe("console.log(1)");
    expect((await fetch(`${base}/assets/none.js`)).status).toBe(404);
  });

  it("says how to build the console when it is not built", async () => {
    const res = await fetch(`${unbuilt}/apps/7`, { headers: html });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      code: 9002,
      message: expect.stringContaining("pnpm --filter @procode/console build"),
    });
  });
});

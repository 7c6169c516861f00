import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@procode/service-kit";
import { createTestInfra, eventually, startPlatform, type Platform, type TestInfra } from "@procode/test-kit";
import { isEnvelope, rawExchange, responsesIn } from "./support/client.js";

/**
 * The gateway under abuse, over the real platform (docs/services/gateway.md, "Under abuse"): its
 * body limits are the services' own and leave the connection in a known state, a slow upload holds
 * nothing upstream, request targets must be origin-form, and everything it answers is the envelope.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;
const BODY_TIMEOUT_MS = 4000;

beforeAll(async () => {
  infra = await createTestInfra("e2e_gateway_abuse");
  platform = await startPlatform(infra, {
    env: { gateway: { GATEWAY_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) } },
  });
  token = await signToken({ sub: "abuser", team: "abuse" }, platform.jwtSecret);
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
});

/** A request through a keep-alive agent (one socket reused when it can be), with a deadline. */
function request(
  agent: http.Agent,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders; socketReused: boolean }> {
  const url = new URL(path, platform.gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { "content-type": "application/json" } : {}),
          ...(body && !headers["transfer-encoding"] ? { "content-length": String(body.length) } : {}),
          ...headers,
        },
        signal: AbortSignal.timeout(15_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
            socketReused: req.reusedSocket,
          }),
        );
      },
    );
    // An error after the answer (the gateway closing while the rest of a refused body is still being
    // written) changes nothing: the promise is settled by then.
    req.on("error", reject);
    req.end(body);
  });
}

describe("body limits at the gateway", () => {
  it.each([
    ["just past the limit", 1024 * 1024 + 64, {}],
    ["8 MiB", 8 * 1024 * 1024, {}],
    ["24 MiB without a declared length", 24 * 1024 * 1024, { "transfer-encoding": "chunked" }],
  ])(
    "answers a body %s with 413 (9004) once it is read, and the same connection carries the next request",
    async (_what, size, headers: Record<string, string>) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const warm = await request(agent, "GET", "/apps");
        expect(warm.status).toBe(200);
        const body = Buffer.alloc(size, 0x20);
        body.write('{"name":"');
        const refused = await request(agent, "POST", "/apps", body, headers);
        expect({ status: refused.status, connection: refused.headers["connection"] }).toEqual({
          status: 413,
          connection: "keep-alive",
        });
        expect(JSON.parse(refused.body)).toMatchObject({ code: 9004, data: null });
        // The client has the connection back once its own write of the body has finished too, which
        // on a busy machine may come a moment after the answer; a connection the gateway closed never
        // comes back.
        await eventually(
          () => Object.values(agent.freeSockets).flat().length === 1,
          "the connection back in the client's pool",
          2000,
        );
        const started = Date.now();
        const next = await request(agent, "GET", "/apps");
        expect({ status: next.status, reused: next.socketReused }).toEqual({ status: 200, reused: true });
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        agent.destroy();
      }
    },
  );

  it("never reads a request pipelined behind an oversized body as a request; a body that never ends loses its connection", async () => {
    const head = `POST /apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`;
    const smuggled = `GET /apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const started = Date.now();
    const res = await rawExchange(platform.gatewayUrl, [head, `{"name":"`, smuggled], 4 * BODY_TIMEOUT_MS);
    // Closed once the declared body had not arrived by the deadline.
    expect(res.closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 500);
    const answers = responsesIn(res.text);
    // The body is read on past the limit, to its end, which never comes: 408, never a second answer.
    expect(answers.map((a) => a.status)).toEqual([408]);
    expect(isEnvelope(answers[0]!.body)).toBe(true);
  });

  it("applies the webhook route's own limit (5 MiB), not the 1 MiB of the rest", async () => {
    const agent = new http.Agent({ keepAlive: false });
    try {
      const twoMiB = Buffer.alloc(2 * 1024 * 1024, 0x20);
      // Past the gateway, to dev-svc, which refuses the unsigned delivery.
      const passed = await request(agent, "POST", "/webhooks/local/424242", twoMiB);
      expect(JSON.parse(passed.body)).toMatchObject({ code: 5002 });
      const sixMiB = Buffer.alloc(6 * 1024 * 1024, 0x20);
      const refused = await request(agent, "POST", "/webhooks/local/424242", sixMiB);
      expect({ status: refused.status, code: JSON.parse(refused.body).code }).toEqual({
        status: 413,
        code: 9004,
      });
    } finally {
      agent.destroy();
    }
  });
});

describe("slow uploads", () => {
  it("lets 70 uploads at one byte every 2 s, token-less through /webhooks/, hold nothing other callers need", async () => {
    const { hostname, port } = new URL(platform.gatewayUrl);
    const slow: { socket: net.Socket; answer: Promise<string> }[] = [];
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < 70; i++) {
      const socket = net.connect(Number(port), hostname);
      socket.on("error", () => {});
      let text = "";
      const answer = new Promise<string>((resolve) => {
        socket.on("data", (d) => (text += d.toString()));
        socket.on("close", () => resolve(text));
      });
      socket.write(
        `POST /webhooks/local/${1000 + i} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
      );
      timers.push(setInterval(() => socket.writable && socket.write(" "), 2000));
      slow.push({ socket, answer });
    }
    try {
      // Every other caller of the same service is answered while they dribble.
      const agent = new http.Agent({ keepAlive: true });
      const started = Date.now();
      const others = await Promise.all(
        Array.from({ length: 20 }, (_, i) => request(agent, "GET", i % 2 ? "/credentials" : "/apps/1/repo")),
      );
      agent.destroy();
      expect(others.map((o) => o.status).filter((s) => s >= 500)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(BODY_TIMEOUT_MS);
      // Then each slow upload is cut off at the deadline with a 408 envelope, and its connection closed.
      const answers = await Promise.all(slow.map((s) => s.answer));
      for (const text of answers) {
        const [first] = responsesIn(text);
        expect(first?.status).toBe(408);
        expect(JSON.parse(first!.body)).toMatchObject({ code: 9009 });
      }
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of slow) s.socket.destroy();
    }
  });
});

describe("requests the gateway answers itself", () => {
  const answerOf = async (raw: string) => {
    const res = await rawExchange(platform.gatewayUrl, [raw], 5000, (text) => responsesIn(text).length > 0);
    const [first] = responsesIn(res.text);
    return {
      status: first?.status,
      envelope: isEnvelope(first?.body ?? ""),
      body: first?.body ?? res.text,
      closed: res.closed,
    };
  };

  it.each([
    ["an absolute-form target", `GET ${"http://127.0.0.1/apps"} HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 9006],
    ["an asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, 9006],
    ["a path that does not decode", "GET /apps/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n", 400, 9006],
    ["a query that does not decode", "GET /apps?name=%ED%A0%80 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 9006],
    ["a target of 9 KiB", `GET /apps?q=${"a".repeat(9 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 9007],
    [
      "a head of 20 KiB",
      `GET /apps HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(20 * 1024)}\r\n\r\n`,
      431,
      9008,
    ],
    ["a request line that is not HTTP", "HELLO\r\n\r\n", 400, 9006],
    ["an unknown path", "GET /nothing/here HTTP/1.1\r\nHost: x\r\n\r\n", 404, 9002],
    [
      "a content type that does not parse",
      "POST /apps HTTP/1.1\r\nHost: x\r\nContent-Type: ;;\r\nContent-Length: 2\r\n\r\n{}",
      415,
      9005,
    ],
  ])("answers %s with the envelope", async (_what, raw, status, code) => {
    const r = await answerOf(raw);
    expect({ status: r.status, envelope: r.envelope }, r.body).toEqual({ status, envelope: true });
    expect(JSON.parse(r.body).code).toBe(code);
  });

  it("honours a caller's Connection: close, on its own routes and on passed-through ones", async () => {
    for (const path of ["/healthz", "/apps"]) {
      const res = await rawExchange(
        platform.gatewayUrl,
        [`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`],
        5000,
      );
      const [first] = responsesIn(res.text);
      expect({ path, status: first?.status, closed: res.closed }).toEqual({
        path,
        status: 200,
        closed: true,
      });
      expect(first!.headers.toLowerCase()).toContain("connection: close");
    }
  });
});

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Iteration, RepoBinding } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import {
  call,
  isEnvelope,
  localDelivery,
  localWebhookSecret,
  opsCallbackHeaders,
  tokenWith,
  type Answer,
} from "./support/client.js";

/**
 * Hostile input over the real platform, every call through the gateway: every operation of the API
 * document, every path and query parameter and every body field, given what an attacker would send.
 * Nothing may answer 5xx; text the database cannot store and JSON nested too deep are 1001 naming
 * the field (docs/api.md "Hostile input"), in bodies, queries, paths and signed payloads alike.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;
const ids = { app: 0, iteration: 0, pipeline: 0, credential: "" };

type Json = Record<string, any>;
let doc: Json;

const gw = <T = unknown>(method: string, url: string, opts: Parameters<typeof call>[3] = {}) =>
  call<T>(platform.gatewayUrl, method, url, { token, ...opts });

async function ok<T>(method: string, url: string, body?: unknown): Promise<T> {
  const r = await gw<T>(method, url, body === undefined ? {} : { body });
  if (r.code !== 0) throw new Error(`${method} ${url}: ${r.status} ${r.code} ${r.message}`);
  return r.data;
}

beforeAll(async () => {
  infra = await createTestInfra("e2e_hostile");
  platform = await startPlatform(infra, {
    env: { "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" } },
  });
  token = await signToken({ sub: "hostile", team: "hostile-team" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "hostile.git");
  const app = await ok<App>("POST", "/apps", {
    name: "hostile-agent",
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl: "local://hostile",
    scaffoldTemplate: "python-agent",
  });
  ids.app = app.id;
  await eventually(
    async () => (await ok<RepoBinding>("GET", `/apps/${app.id}/repo`)).scaffold.state === "PUSHED",
    "scaffold pushed",
    60_000,
    200,
  );
  const it0 = await ok<Iteration>("POST", "/iterations", {
    appId: app.id,
    name: "one",
    sourceBranch: "main",
  });
  ids.iteration = it0.id;
  ids.pipeline = await eventually(
    async () => (await ok<Iteration>("GET", `/iterations/${it0.id}`)).iterationPipelineId,
    "iteration pipeline",
    30_000,
    200,
  );
  ids.credential = (
    await ok<{ id: string }>("POST", "/credentials", { gitType: "GITLAB", name: "c", token: "glpat-x" })
  ).id;
  const res = await fetch(`${platform.gatewayUrl}/openapi.json`);
  doc = (await res.json()) as Json;
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
});

/** A valid body per operation, so that the one hostile field is the only thing wrong with it. */
function baseBodies(): Record<string, Json> {
  return {
    createApp: { name: "fuzzed", devMode: "pro-code", techStack: "python", gitRepoUrl: "local://hostile" },
    putProcodeConfig: { concurrency: "QUEUE" },
    createCredential: { gitType: "GITLAB", name: "fuzzed", token: "glpat-fuzzed" },
    createNotification: { url: "https://203.0.113.7/procode", eventTypes: ["pipeline.failed"] },
    createIteration: { appId: ids.app, name: "fuzzed", sourceBranch: "main" },
    proceedIteration: { targetPhase: "TESTING" },
    releaseIteration: { tag: "v1.0.0" },
    cancelPipeline: { reason: "fuzzed" },
    proceedPipeline: { reason: "fuzzed" },
    resumePipeline: { reason: "fuzzed" },
    retryPipeline: { reason: "fuzzed" },
  };
}

/** The real id to put in a path template, so the call reaches the service's use case. */
function pathWith(template: string, name: string, value: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, p: string) => {
    if (p === name) return value;
    if (template.startsWith("/credentials")) return ids.credential;
    if (template.startsWith("/iterations")) return String(ids.iteration);
    if (template.startsWith("/pipelines")) return String(ids.pipeline);
    return String(ids.app);
  });
}

const nestedObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const nestedArray = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** Body values (raw JSON text) that must be refused as 1001 naming the field. */
const UNSTORABLE: [string, string, RegExp][] = [
  ["a NUL character", JSON.stringify("a\u0000b"), /NUL/],
  ["an unpaired surrogate", '"x\\ud800y"', /unpaired surrogate/],
  ["an unpaired surrogate in a key", '{"\\udc00":"v"}', /unpaired surrogate/],
  ["JSON nested 100 deep", nestedObject(100), /nested deeper than 64/],
];

/** Body values that may be refused any way the field's rules say, but never with a 5xx. */
const ODD_VALUES: [string, string][] = [
  ["a huge number", "1e300"],
  ["a number past bigint", "99999999999999999999999"],
  ["a negative number", "-1"],
  ["a fraction", "0.5"],
  ["100 KiB of text", JSON.stringify("x".repeat(100_000))],
  ["an empty string", '""'],
  ["an array", "[1,2]"],
  ["an object", '{"b":1}'],
  ["true", "true"],
  ["null", "null"],
  ["a __proto__ key", '{"__proto__":{"x":1}}'],
  ["control characters", JSON.stringify("a\u0001\u001b[31mb\nc")],
];

/** Path and query values (as written in the URL) that must never be a 5xx. */
const ODD_PARAMS: [string, string][] = [
  ["a huge number", "1e300"],
  ["a number past bigint", "99999999999999999999999"],
  ["a negative number", "-1"],
  ["zero", "0"],
  ["hex", "0x10"],
  ["invalid percent-encoding", "%ED%A0%80"],
  ["a broken escape", "%E0%A4%A"],
  ["5,000 characters", "x".repeat(5000)],
  ["an encoded slash", "a%2Fb"],
  ["unicode", "%F0%9F%98%80"],
];

/** Why an answer is not a 4xx (or 2xx) envelope, or null when it is one. */
function notBelow500(what: string, r: Answer): string | null {
  // GET /events took the odd value as a filter and opened its stream: not an error either.
  if (r.status === 200 && (r.headers.get("content-type") ?? "").startsWith("text/event-stream")) return null;
  if (!isEnvelope(r.text)) return `${what}: ${r.status} not an envelope: ${r.text.slice(0, 200)}`;
  if (r.status >= 500) return `${what}: ${r.status} ${r.text.slice(0, 200)}`;
  return null;
}

/** Why an answer is not the 1001 of `field` for `rule`, or null when it is. */
function notRefusedNaming(what: string, r: Answer, field: string, rule: RegExp): string | null {
  const named = r.message.startsWith(`${field}: `) && rule.test(r.message);
  if (r.status === 400 && r.code === 1001 && named) return null;
  return `${what}: ${r.status} ${r.text.slice(0, 200)}`;
}

function expectRefusedNaming(what: string, r: Answer, field: string, rule: RegExp): void {
  expect(notRefusedNaming(what, r, field, rule)).toBeNull();
}

function operations(): { method: string; template: string; op: Json }[] {
  return Object.entries(doc["paths"] as Record<string, Record<string, Json>>).flatMap(([template, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), template, op })),
  );
}

/** The top-level properties of an operation's JSON body schema. */
function fieldsOf(op: Json): string[] {
  const ref = op["requestBody"]?.content?.["application/json"]?.schema?.$ref as string | undefined;
  if (!ref) return [];
  const schema = doc["components"].schemas[ref.split("/").pop()!] as Json;
  return Object.keys(schema["properties"] ?? {});
}

/** Signed routes are covered by their own tests below (a forged signature is refused first). */
const signed = (template: string) => template.startsWith("/webhooks/") || template === "/deploy/callback";

describe("every operation of the API document under hostile input", () => {
  /** Every path or query parameter of every unsigned operation, with the operation's valid body. */
  function* parameters(where: "path" | "query") {
    for (const { method, template, op } of operations()) {
      if (signed(template)) continue;
      const body = baseBodies()[op["operationId"]];
      for (const p of ((op["parameters"] ?? []) as Json[]).filter((x) => x["in"] === where)) {
        const name = p["name"] as string;
        const url = (v: string) =>
          where === "path" ? pathWith(template, name, v) : `${pathWith(template, "", "")}?${name}=${v}`;
        yield {
          what: `${method} ${template} ${where} ${name}`,
          name,
          call: (v: string) => gw(method, url(v), body ? { body } : {}),
        };
      }
    }
  }

  /** Every body field of every unsigned operation; `call(raw)` sends a valid body with the field set to `raw`. */
  function* bodyFields() {
    for (const { method, template, op } of operations()) {
      if (signed(template)) continue;
      const base = baseBodies()[op["operationId"]];
      for (const field of fieldsOf(op)) {
        expect(base, `a base body for ${op["operationId"]}`).toBeDefined();
        const rest = JSON.stringify({ ...base, [field]: undefined }).slice(1, -1);
        const body = (raw: string) => `{"${field}":${raw}${rest ? `,${rest}` : ""}}`;
        yield {
          what: `${method} ${template} ${field}`,
          field,
          call: (raw: string) => gw(method, pathWith(template, "", ""), { body: body(raw) }),
        };
      }
    }
  }

  it.each(["path", "query"] as const)(
    "answers hostile %s parameters with 4xx envelopes, and a NUL as 1001 naming the parameter",
    async (where) => {
      const problems: string[] = [];
      let cases = 0;
      const odd =
        where === "path" ? ODD_PARAMS : [...ODD_PARAMS, ["repeated", "1&{name}=2"] as [string, string]];
      for (const { what, name, call: send } of parameters(where)) {
        problems.push(notRefusedNaming(`${what}=%00`, await send("a%00b"), name, /NUL/) ?? "");
        for (const [label, value] of odd) {
          problems.push(notBelow500(`${what} ${label}`, await send(value.replace("{name}", name))) ?? "");
          cases++;
        }
      }
      expect(problems.filter(Boolean)).toEqual([]);
      expect(cases).toBeGreaterThan(where === "path" ? 100 : 50);
    },
  );

  it("refuses text the database cannot store and JSON nested too deep in any body field as 1001 naming it", async () => {
    const problems: string[] = [];
    let cases = 0;
    for (const { what, field, call: send } of bodyFields()) {
      for (const [label, raw, rule] of UNSTORABLE) {
        problems.push(notRefusedNaming(`${what} with ${label}`, await send(raw), field, rule) ?? "");
        cases++;
      }
    }
    expect(problems.filter(Boolean)).toEqual([]);
    expect(cases).toBeGreaterThan(60);
  });

  it("never answers a body field's odd value with a 5xx", async () => {
    const problems: string[] = [];
    let cases = 0;
    for (const { what, call: send } of bodyFields()) {
      for (const [label, raw] of ODD_VALUES) {
        problems.push(notBelow500(`${what} ${label}`, await send(raw)) ?? "");
        cases++;
      }
    }
    expect(problems.filter(Boolean)).toEqual([]);
    expect(cases).toBeGreaterThan(200);
  });

  it("refuses a body nested 10,000 deep, or that is itself unstorable, as 1001 naming the body", async () => {
    const problems: string[] = [];
    for (const { method, template } of operations()) {
      if (signed(template) || method === "GET" || method === "DELETE") continue;
      const url = pathWith(template, "", "");
      const refused = async (label: string, body: string, field: string, rule: RegExp) =>
        problems.push(
          notRefusedNaming(`${method} ${template} ${label}`, await gw(method, url, { body }), field, rule) ??
            "",
        );
      await refused("array", nestedArray(10_000), "body", /nested deeper than 64/);
      await refused("object", `{"x":${nestedObject(10_000)}}`, "x", /nested deeper than 64/);
      await refused("string", '"\\udfff"', "body", /unpaired surrogate/);
    }
    expect(problems.filter(Boolean)).toEqual([]);
  });
});

describe("bearer tokens: the claims are checked before use", () => {
  const now = () => Math.floor(Date.now() / 1000);
  /** Validly signed tokens whose claims are unusable: every one is 401 (5001) on every service. */
  const flawed = (): [string, Record<string, unknown>][] => [
    ["a team of 101 characters", { sub: "a", team: "t".repeat(101), exp: now() + 600 }],
    ["a NUL in the team", { sub: "a", team: "t\u0000", exp: now() + 600 }],
    ["an unpaired surrogate in the team", { sub: "a", team: "t\ud800", exp: now() + 600 }],
    ["a line break in the team", { sub: "a", team: "t\nx", exp: now() + 600 }],
    ["an empty team", { sub: "a", team: "", exp: now() + 600 }],
    ["a team that is not text", { sub: "a", team: 7, exp: now() + 600 }],
    ["a subject of 201 characters", { sub: "s".repeat(201), team: "t", exp: now() + 600 }],
    ["a control character in the subject", { sub: "a\u0007", team: "t", exp: now() + 600 }],
    ["no exp", { sub: "a", team: "t", iat: now() }],
  ];
  /** One writing and one reading route of each service with bearer tokens. */
  const routes: [string, string, unknown][] = [
    ["POST", "/apps", { name: "claims", devMode: "low-code" }],
    ["GET", "/apps", undefined],
    ["POST", "/credentials", { gitType: "GITLAB", name: "claims", token: "glpat-claims" }],
    ["GET", "/credentials", undefined],
    ["POST", "/iterations", { appId: 1, name: "claims", sourceBranch: "main" }],
    ["GET", "/pipelines", undefined],
    ["POST", "/pipelines/1/cancel", { reason: "claims" }],
  ];

  it("refuses a team or subject too long, empty, not text or with control characters, and a token without exp", async () => {
    for (const [flaw, claims] of flawed()) {
      const bad = tokenWith(platform.jwtSecret, claims);
      for (const [method, url, body] of routes) {
        const r = await call(platform.gatewayUrl, method, url, { token: bad, ...(body ? { body } : {}) });
        expect({ flaw, call: `${method} ${url}`, status: r.status, code: r.code }, r.text).toEqual({
          flaw,
          call: `${method} ${url}`,
          status: 401,
          code: 5001,
        });
      }
    }
  });

  it("accepts a team of exactly 100 and a subject of exactly 200 characters", async () => {
    const good = tokenWith(platform.jwtSecret, {
      sub: "s".repeat(200),
      team: "t".repeat(100),
      exp: now() + 600,
    });
    const r = await call(platform.gatewayUrl, "POST", "/apps", {
      token: good,
      body: { name: "edge", devMode: "low-code" },
    });
    expect(r.code, r.text).toBe(0);
  });
});

describe("signed payloads are held to the same rules once their signature is checked", () => {
  it("refuses a validly signed webhook whose payload holds an unpaired surrogate, naming the field", async () => {
    const secret = localWebhookSecret(path.join(platform.repoRoot, "hostile.git"), ids.app);
    const delivery = localDelivery(
      secret,
      { ref: "refs/heads/main", before: "0".repeat(40), after: "a".repeat(40) },
      '"commits":[{"message":"fix \\ud800"}]',
    );
    const r = await call(platform.gatewayUrl, "POST", `/webhooks/local/${ids.app}`, {
      headers: delivery.headers,
      body: delivery.body,
    });
    expectRefusedNaming("surrogate in a webhook", r, "commits.0.message", /unpaired surrogate/);
  });

  it("refuses a validly signed webhook nested 10,000 deep and one with a NUL, naming the field", async () => {
    const secret = localWebhookSecret(path.join(platform.repoRoot, "hostile.git"), ids.app);
    const deep = localDelivery(secret, { ref: "refs/heads/main" }, `"extra":${nestedArray(10_000)}`);
    expectRefusedNaming(
      "deep webhook",
      await call(platform.gatewayUrl, "POST", `/webhooks/local/${ids.app}`, {
        headers: deep.headers,
        body: deep.body,
      }),
      "extra",
      /nested deeper than 64/,
    );
    const nul = localDelivery(secret, { ref: "refs/heads/main", pusher: "a\u0000b" });
    expectRefusedNaming(
      "NUL in a webhook",
      await call(platform.gatewayUrl, "POST", `/webhooks/local/${ids.app}`, {
        headers: nul.headers,
        body: nul.body,
      }),
      "pusher",
      /NUL/,
    );
  });

  it("refuses a validly signed ops callback with a NUL or an unpaired surrogate, naming the field", async () => {
    for (const [raw, rule] of [
      [
        '{"deployId":"d-1","status":"SUCCESS","timestamp":"2026-01-01T00:00:00Z","message":"a\\u0000b"}',
        /NUL/,
      ],
      [
        '{"deployId":"d-1","status":"SUCCESS","timestamp":"2026-01-01T00:00:00Z","message":"a\\ud800b"}',
        /unpaired surrogate/,
      ],
    ] as const) {
      const r = await call(platform.gatewayUrl, "POST", "/deploy/callback", {
        headers: opsCallbackHeaders(platform.opsCallbackSecret, raw),
        body: raw,
      });
      expectRefusedNaming(`callback ${raw}`, r, "message", rule);
    }
  });

  it("checks the signature first: an unsigned hostile callback is 401 (5002), not a parse of its content", async () => {
    const r = await call(platform.gatewayUrl, "POST", "/deploy/callback", {
      body: '{"deployId":"\\ud800","status":"SUCCESS"}',
    });
    expect({ status: r.status, code: r.code }).toEqual({ status: 401, code: 5002 });
  });
});

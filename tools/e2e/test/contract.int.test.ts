import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  git,
  REPO_ROOT,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";

/**
 * The one API contract (docs/api.md): the gateway's merged OpenAPI document, read from the real
 * platform, linted, compared with the committed copy that clients generate their types from.
 */

const run = promisify(execFile);
let infra: TestInfra;
let platform: Platform;
let workdir: string;
type Json = Record<string, any>;
let doc: Json;

/** The document as committed: the same, with the local gateway's default address as its server. */
const COMMITTED = path.join(REPO_ROOT, "libs/contracts/openapi.json");
const LOCAL_SERVER = "http://127.0.0.1:8080";

beforeAll(async () => {
  infra = await createTestInfra("e2e_contract");
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": { RETRY_BASE_MS: "200", RETRY_MAX_MS: "1000", STAGE_REPUBLISH_MS: "3000" },
      "ops-module": { DEFAULT_DURATION_MS: "500" },
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" },
    },
  });
  workdir = mkdtempSync(path.join(os.tmpdir(), "procode-contract-"));
  const res = await fetch(`${platform.gatewayUrl}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Json;
});

afterAll(async () => {
  await platform?.stop();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await infra?.cleanup();
});

const operations = () =>
  Object.entries(doc["paths"] as Record<string, Record<string, Json>>).flatMap(([p, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path: p, op })),
  );

describe("the gateway's API document", () => {
  it("is public, names the gateway as its server and covers every REST path of the product", async () => {
    expect(doc["openapi"]).toBe("3.1.0");
    expect(doc["servers"]).toEqual([{ url: platform.gatewayUrl, description: expect.any(String) }]);
    expect(operations().map((o) => `${o.method.toUpperCase()} ${o.path}`)).toEqual(
      expect.arrayContaining([
        "POST /apps",
        "GET /apps",
        "GET /apps/{id}",
        "PUT /apps/{id}/procode-config",
        "GET /apps/{id}/repo",
        "GET /apps/{id}/repo/branches",
        "GET /apps/{id}/repo/tags",
        "GET /apps/{id}/webide",
        "POST /credentials",
        "GET /credentials",
        "DELETE /credentials/{id}",
        "POST /webhooks/{gitType}/{appId}",
        "POST /iterations",
        "GET /iterations/{id}",
        "GET /apps/{id}/iterations",
        "POST /iterations/{id}/proceed",
        "POST /iterations/{id}/release",
        "GET /pipelines/{id}",
        "GET /pipelines",
        "POST /pipelines/{id}/proceed",
        "POST /pipelines/{id}/retry",
        "POST /pipelines/{id}/resume",
        "POST /pipelines/{id}/cancel",
        "POST /deploy/callback",
      ]),
    );
  });

  it("gives every operation a unique operationId and at least one documented error", () => {
    const ids = operations().map((o) => o.op["operationId"]);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations()) {
      expect(Object.keys(op["responses"]).some((s) => s.startsWith("4"))).toBe(true);
    }
  });

  it("names the schemas, with formats, enums and the seed's examples", () => {
    const schemas = doc["components"].schemas as Record<string, Json>;
    for (const name of [
      "App",
      "ProcodeConfig",
      "StageConfig",
      "Iteration",
      "Pipeline",
      "Checkpoint",
      "Credential",
      "AppPage",
      "IterationPage",
      "PipelinePage",
      "CredentialPage",
      "ErrorEnvelope",
    ]) {
      expect(schemas[name], name).toBeDefined();
    }
    expect(schemas["App"]!["properties"].createdAt).toMatchObject({ type: "string", format: "date-time" });
    expect(schemas["ProcodeConfig"]!["properties"].webhookUrl).toMatchObject({ format: "uri" });
    expect(schemas["ProceedIterationRequest"]!["properties"].targetPhase.enum).toEqual([
      "TESTING",
      "STAGING",
      "RELEASE",
    ]);
    expect(schemas["App"]!["examples"][0]).toMatchObject({ id: 123, name: "my-agent", devMode: "pro-code" });
    expect(schemas["Pipeline"]!["examples"][0]).toMatchObject({
      id: 789,
      parentId: 888,
      currentStage: "DEPLOY",
    });
  });

  it("documents each operation's own error codes by status", () => {
    const byId = Object.fromEntries(operations().map((o) => [o.op["operationId"], o.op]));
    const codes = (operationId: string, status: string) =>
      byId[operationId]!["responses"][status]?.content["application/json"].schema.allOf[1].properties.code
        .enum;
    expect(codes("createApp", "400")).toEqual([1001, 1003]);
    expect(codes("createApp", "409")).toEqual([1002, 9011]);
    expect(codes("createApp", "422")).toEqual([9010]);
    expect(codes("receiveWebhook", "429")).toEqual([5006]);
    expect(codes("deployCallback", "429")).toEqual([5006]);
    expect(codes("createApp", "413")).toEqual([9004]);
    expect(codes("createApp", "415")).toEqual([9005]);
    expect(codes("createApp", "401")).toEqual([5001]);
    expect(codes("retryPipeline", "409")).toEqual([3001, 3002, 3005]);
    expect(codes("retryPipeline", "404")).toEqual([3004]);
    expect(codes("proceedPipeline", "409")).toEqual([2001, 2003, 3001]);
    expect(codes("getPipeline", "503")).toEqual([9003]);
    expect(codes("deployCallback", "401")).toEqual([5002]);
    expect(byId["getPipeline"]!["responses"]["413"]).toBeUndefined();
    expect(byId["getPipeline"]!["responses"]["429"]).toBeUndefined();
    // The creates document their Idempotency-Key header.
    for (const id of ["createApp", "createIteration", "createCredential"]) {
      const params = (byId[id]!["parameters"] ?? []) as Json[];
      expect(params.find((p) => p["in"] === "header")?.["name"], id).toBe("idempotency-key");
    }
  });

  it("takes no body or a reason for the pipeline actions", () => {
    for (const action of ["proceed", "retry", "resume", "cancel"]) {
      const op = (doc["paths"] as Json)[`/pipelines/{id}/${action}`].post;
      expect(op.requestBody.required).toBe(false);
      expect(op.requestBody.content["application/json"].schema).toEqual({
        $ref: "#/components/schemas/PipelineActionRequest",
      });
    }
  });

  it("describes the signed public routes with their HMAC schemes", () => {
    const paths = doc["paths"] as Json;
    expect(paths["/deploy/callback"].post.security).toEqual([{ opsSignature: [], opsTimestamp: [] }]);
    expect(paths["/webhooks/{gitType}/{appId}"].post.security).toEqual(
      expect.arrayContaining([{ githubSignature: [] }, { gitlabToken: [] }]),
    );
    expect(doc["components"].securitySchemes.opsSignature).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "x-ops-signature",
    });
  });

  it("passes @redocly/cli lint (recommended) with no error", async () => {
    const file = path.join(workdir, "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const bin = path.join(REPO_ROOT, "tools/e2e/node_modules/.bin/redocly");
    const out = await run(bin, ["lint", "--extends=recommended", "--format=json", file], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
    const report = JSON.parse(out.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string }[];
    };
    expect(report.totals.errors, JSON.stringify(report.problems.slice(0, 5))).toBe(0);
  });

  it("is the committed copy clients generate their types from (--update rewrites it)", async () => {
    const committed = {
      ...doc,
      servers: [{ url: LOCAL_SERVER, description: doc["servers"][0].description }],
    };
    await expect(`${JSON.stringify(committed, null, 2)}\n`).toMatchFileSnapshot(COMMITTED);
  });
});

interface SeedFlowModule {
  runSeedFlow(opts: {
    baseUrl: string;
    token: string;
    repo: string;
    seen: (answer: { method: string; path: string; status: number; body: unknown }) => void;
  }): Promise<{ appId: number; iterationId: number; pipelineId: number; tag: string }>;
}

describe("a client generated from the document", () => {
  const clientDir = path.join(REPO_ROOT, "tools/e2e/contract");
  const bin = (name: string) => path.join(REPO_ROOT, "tools/e2e/node_modules/.bin", name);

  it("type-checks (strict) against the types openapi-typescript generates from the live document", async () => {
    const file = path.join(workdir, "live.json");
    writeFileSync(file, JSON.stringify(doc));
    await run(bin("openapi-typescript"), [file, "-o", path.join(clientDir, "api.ts")]);
    const tsc = await run(bin("tsc"), ["-p", path.join(clientDir, "tsconfig.json")]).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? "tsc failed" }),
    );
    expect(tsc.stdout).toBe("");
  });

  it("drives the seed flow through the gateway, every answer (errors too) as the document says", async () => {
    git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "contract.git");
    const token = await signToken({ sub: "contract", team: "contract-team" }, platform.jwtSecret);
    const answers: { method: string; path: string; status: number; body: unknown }[] = [];
    // Imported at run time: the file only compiles once its types have been generated (above).
    const flow: SeedFlowModule = await import(path.join(clientDir, "seed-flow.ts"));
    const result = await flow.runSeedFlow({
      baseUrl: platform.gatewayUrl,
      token,
      repo: "contract",
      seen: (a) => answers.push(a),
    });
    expect(result.tag).toBe("v1.0.0");

    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: "procode", components: doc["components"] });
    const problems: string[] = [];
    const statuses = new Set<string>();
    for (const a of answers) {
      const op = (doc["paths"] as Json)[a.path]?.[a.method.toLowerCase()];
      const response = op?.responses[String(a.status)];
      statuses.add(`${a.status}`);
      if (!response) {
        problems.push(`${a.method} ${a.path} answered ${a.status}, which its operation does not document`);
        continue;
      }
      const schema = JSON.parse(
        JSON.stringify(response.content["application/json"].schema).replaceAll(
          '"#/components/',
          '"procode#/components/',
        ),
      );
      const validate = ajv.compile(schema);
      if (!validate(a.body)) {
        problems.push(`${a.method} ${a.path} ${a.status}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(answers.length).toBeGreaterThan(20);
    expect([...statuses].sort()).toEqual(["200", "400", "401", "404", "409"]);
  });
});

/**
 * A small client of the Pro-code API, typed only by what openapi-typescript generates from the
 * gateway's live document (`./api.ts`, written by tools/e2e/test/contract.int.test.ts before it
 * type-checks this file with `tsc --strict`). It drives the seed flow through the gateway: an app on
 * a LOCAL repository with a scaffold, an iteration through TESTING and STAGING, a release to
 * SUCCESS and RELEASED; and a few refusals, so that error answers are checked against the document
 * too. Every answer is handed to `seen` for that check.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api.js";

export interface Answer {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

type Pipeline = components["schemas"]["Pipeline"];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runSeedFlow(opts: {
  baseUrl: string;
  token: string;
  repo: string;
  seen: (answer: Answer) => void;
}): Promise<{ appId: number; iterationId: number; pipelineId: number; tag: string }> {
  const record: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const text = await response.clone().text();
      opts.seen({
        method: request.method,
        path: schemaPath,
        status: response.status,
        body: JSON.parse(text),
      });
    },
  };
  const api = createClient<paths>({
    baseUrl: opts.baseUrl,
    headers: { authorization: `Bearer ${opts.token}` },
  });
  api.use(record);
  const anonymous = createClient<paths>({ baseUrl: opts.baseUrl });
  anonymous.use(record);

  // Refusals the document lists.
  const unauthenticated = await anonymous.GET("/apps");
  if (unauthenticated.error?.code !== 5001) throw new Error("an anonymous call must be refused with 5001");
  const invalid = await api.POST("/apps", { body: { name: "", devMode: "pro-code" } });
  if (invalid.error?.code !== 1001) throw new Error("an empty name must be refused with 1001");
  const missing = await api.GET("/apps/{id}", { params: { path: { id: 987_654 } } });
  if (missing.error?.code !== 1004) throw new Error("an unknown app must be 1004");

  // An app on a LOCAL repository, the scaffold pushed to it.
  const created = await api.POST("/apps", {
    body: {
      name: "contract-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: `local://${opts.repo}`,
      scaffoldTemplate: "python-agent",
    },
  });
  if (!created.data) throw new Error(`POST /apps: ${created.error?.message}`);
  const appId = created.data.data.id;
  await until("the repository bound and the scaffold pushed", async () => {
    const r = await api.GET("/apps/{id}/repo", { params: { path: { id: appId } } });
    return r.data?.data.state === "BOUND" && r.data.data.scaffold.state === "PUSHED"
      ? r.data.data
      : undefined;
  });

  // One setting changed; the repository, and everything else, kept (LOCAL needs no credential).
  const configured = await api.PUT("/apps/{id}/procode-config", {
    params: { path: { id: appId } },
    body: { stageConfigs: { BUILD: { maxRetries: 1 } } },
  });
  if (configured.data?.data.gitRepoUrl !== `local://${opts.repo}`)
    throw new Error("the repository must be kept");
  const listed = await api.GET("/apps", { params: { query: { name: "contract", pageSize: 10 } } });
  if (!listed.data?.data.items.some((a) => a.id === appId)) throw new Error("GET /apps must list the app");

  // An iteration through its phases.
  const iteration = await api.POST("/iterations", { body: { appId, name: "v1.0.0", sourceBranch: "main" } });
  if (!iteration.data) throw new Error(`POST /iterations: ${iteration.error?.message}`);
  const iterationId = iteration.data.data.id;
  await until("the iteration to reach DEVELOPING", async () => {
    const r = await api.GET("/iterations/{id}", { params: { path: { id: iterationId } } });
    return r.data?.data.status === "DEVELOPING" ? true : undefined;
  });
  const backwards = await api.POST("/iterations/{id}/proceed", {
    params: { path: { id: iterationId } },
    body: { targetPhase: "STAGING" },
  });
  if (backwards.data) throw new Error("skipping TESTING must be refused");
  for (const targetPhase of ["TESTING", "STAGING"] as const) {
    const moved = await api.POST("/iterations/{id}/proceed", {
      params: { path: { id: iterationId } },
      body: { targetPhase },
    });
    if (moved.data?.data.currentPhase !== targetPhase) throw new Error(`proceed to ${targetPhase} failed`);
  }

  // The release, followed to SUCCESS.
  const tag = "v1.0.0";
  const release = await api.POST("/iterations/{id}/release", {
    params: { path: { id: iterationId } },
    body: { tag },
  });
  const pipelineId = release.data?.data.pipelineId;
  if (typeof pipelineId !== "number")
    throw new Error(`the release must start a pipeline: ${release.error?.message}`);
  const done = await until<Pipeline>("the release pipeline to succeed", async () => {
    const r = await api.GET("/pipelines/{id}", { params: { path: { id: pipelineId } } });
    if (r.data?.data.status === "FAILED")
      throw new Error(`the release failed: ${JSON.stringify(r.data.data)}`);
    return r.data?.data.status === "SUCCESS" ? r.data.data : undefined;
  });
  // The scaffold ships evaluation cases, so the quality gate runs between PACKAGE and DEPLOY.
  const succeeded = done.checkpoints.filter((c) => c.status === "SUCCESS").map((c) => c.stage);
  if (succeeded.join(" ") !== "CODE_CHECK BUILD PACKAGE QUALITY_GATE DEPLOY")
    throw new Error(`every stage must succeed once, the quality gate too: ${succeeded.join(" ")}`);
  await until("the iteration to be RELEASED", async () => {
    const r = await api.GET("/iterations/{id}", { params: { path: { id: iterationId } } });
    return r.data?.data.status === "RELEASED" ? true : undefined;
  });

  // Reads, and actions a finished pipeline refuses (with no body, as the document allows).
  await api.GET("/pipelines", { params: { query: { refId: iterationId, type: "ITERATION" } } });
  await api.GET("/apps/{id}/iterations", { params: { path: { id: appId } } });
  await api.GET("/credentials");
  const retry = await api.POST("/pipelines/{id}/retry", { params: { path: { id: pipelineId } } });
  if (retry.error?.code !== 3001) throw new Error("retrying a succeeded pipeline must be 3001");
  const cancel = await api.POST("/pipelines/{id}/cancel", {
    params: { path: { id: pipelineId } },
    body: { reason: "already released" },
  });
  if (cancel.error?.code !== 3001) throw new Error("cancelling a succeeded pipeline must be 3001");
  return { appId, iterationId, pipelineId, tag };
}

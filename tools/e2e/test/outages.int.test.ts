import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Checkpoint, Iteration, Pipeline, ReleaseResponse, RepoBinding } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { ok as okAt } from "./support/client.js";
import { Subscriber } from "./support/events.js";
import { iterationThrough, waitPipeline as walkPipeline } from "./support/walk.js";

/**
 * Waiting is not failing (docs/reliability.md), over the real platform: the image builder cut off
 * during PACKAGE and the ops module cut off during DEPLOY, each for several times the budget of the
 * calls and of the attempt (both shortened through the services' settings). Nothing fails; the
 * stage shows it waits, with the reason, in `GET /pipelines/{id}` and in the live pipeline event;
 * the release goes on to SUCCESS by itself when each system answers again.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;

/** PACKAGE's bound: an attempt still running past it while the builder answers fails. */
const BUILD_TIMEOUT_MS = 4000;
/** Each outage: longer than PACKAGE's bound and many times every call's budget and retry pause below. */
const OUTAGE_MS = 10_000;

beforeAll(async () => {
  infra = await createTestInfra("e2e_outages");
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": { STAGE_REPUBLISH_MS: "2000", STAGE_REPUBLISH_MAX_MS: "4000" },
      "dev-svc": {
        BIND_POLL_MS: "200",
        BIND_RETRY_BASE_MS: "500",
        BUILD_POLL_MS: "200",
        BUILDER_CALL_TIMEOUT_MS: "500",
        BUILD_TIMEOUT_MS: String(BUILD_TIMEOUT_MS),
      },
      "ops-gateway": {
        OPS_POLL_INTERVAL_MS: "200",
        OPS_TIMEOUT_MS: "500",
        OPS_LEASE_MS: "2000",
        OPS_RETRY_BASE_MS: "200",
        OPS_RETRY_MAX_MS: "1000",
      },
      "ops-module": { DEFAULT_DURATION_MS: "500" },
    },
  });
  token = await signToken({ sub: "outages", team: "outage-team" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "waiting.git");
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
});

const ok = <T>(method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

async function control(method: string, url: string, body: unknown): Promise<void> {
  const res = await fetch(`${platform.opsModuleUrl}${url}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, `${method} ${url}`).toBe(200);
}

const waitPipeline = (id: number, done: (p: Pipeline) => boolean, what: string, timeoutMs = 90_000) =>
  walkPipeline(ok, id, done, what, timeoutMs);

const checkpoint = (p: Pipeline, stage: string): Checkpoint | undefined =>
  p.checkpoints.find(
    (c) => c.stage === stage && c.attempt === p.checkpoints.filter((x) => x.stage === stage).length,
  );

describe("an outside system down past its budgets", () => {
  it("waits at PACKAGE while the image builder is cut off and at DEPLOY while the ops module is, shows it, and ends SUCCESS", async () => {
    const app = await ok<App>("POST", "/apps", {
      name: "waiting-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "local://waiting",
      scaffoldTemplate: "python-agent",
    });
    await eventually(
      async () => {
        const r = await ok<RepoBinding>("GET", `/apps/${app.id}/repo`);
        return r.state === "BOUND" && r.scaffold.state === "PUSHED";
      },
      "repository bound and scaffold pushed",
      60_000,
      200,
    );
    // Both last long enough for the outage to begin while they run.
    await control("PUT", `/_control/apps/${app.id}`, {
      build: { durationMs: 2500 },
      deploy: { durationMs: 4000, callback: "off" },
    });
    const iterationId = await iterationThrough(ok, app.id, "waits");
    const events = await Subscriber.open(`${platform.gatewayUrl}/events?types=pipeline`, {
      authorization: `Bearer ${token}`,
    });
    try {
      const release = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, {
        tag: "v1.0.0",
      });
      const id = release.pipelineId!;

      // PACKAGE: the build is under way when the builder stops answering.
      await waitPipeline(
        id,
        (p) => p.state === "PACKAGE" && checkpoint(p, "PACKAGE")?.status === "RUNNING",
        "PACKAGE",
      );
      await eventually(
        async () => {
          const res = await fetch(`${platform.opsModuleUrl}/_control/builds?appId=${app.id}`);
          return ((await res.json()) as { data: { total: number } }).data.total === 1;
        },
        "the build created at the builder",
        30_000,
        100,
      );
      await control("POST", "/_control/outage", {
        mode: "unreachable",
        durationMs: OUTAGE_MS,
        scope: "build",
      });
      const packageWaits = await waitPipeline(
        id,
        (p) => checkpoint(p, "PACKAGE")?.waiting !== undefined,
        "PACKAGE shown waiting",
        30_000,
      );
      expect(packageWaits).toMatchObject({ status: "RUNNING", state: "PACKAGE" });
      expect(checkpoint(packageWaits, "PACKAGE")).toMatchObject({
        status: "RUNNING",
        waiting: { state: "WAITING_OPS", reason: expect.stringMatching(/builder|build/i) },
      });
      await events.until(
        (s) =>
          s.events.find(
            (e) =>
              e.data["pipelineId"] === id &&
              e.data["stage"] === "PACKAGE" &&
              typeof e.data["waiting"] === "string",
          ),
        "a live event of PACKAGE waiting",
      );

      // DEPLOY: the builder answers again, the image is built, and the deployment is under way when
      // the ops module stops answering.
      await waitPipeline(id, (p) => p.state === "DEPLOYING", "DEPLOYING after the builder's outage", 60_000);
      await control("POST", "/_control/outage", {
        mode: "unreachable",
        durationMs: OUTAGE_MS,
        scope: "deploy",
      });
      const deployWaits = await waitPipeline(
        id,
        (p) => p.deployStatus === "WAITING_OPS" && checkpoint(p, "DEPLOY")?.waiting !== undefined,
        "DEPLOY shown waiting",
        30_000,
      );
      expect(deployWaits).toMatchObject({ status: "RUNNING", state: "DEPLOYING" });
      expect(checkpoint(deployWaits, "DEPLOY")!.waiting).toMatchObject({ state: "WAITING_OPS" });
      expect(checkpoint(deployWaits, "DEPLOY")!.waiting!.reason.length).toBeGreaterThan(0);
      await events.until(
        (s) =>
          s.events.find(
            (e) =>
              e.data["pipelineId"] === id &&
              e.data["deployStatus"] === "WAITING_OPS" &&
              typeof e.data["waiting"] === "string",
          ),
        "a live event of DEPLOY waiting",
      );

      const done = await waitPipeline(id, (p) => p.status !== "RUNNING", "the release to end", 90_000);
      expect(done.status).toBe("SUCCESS");
      expect(done.deployStatus).toBe("DEPLOY_SUCCESS");
      // One attempt per stage, none failed, none left waiting.
      expect(done.checkpoints.map((c) => `${c.stage}#${c.attempt}:${c.status}`)).toEqual([
        "CODE_CHECK#1:SUCCESS",
        "BUILD#1:SUCCESS",
        "PACKAGE#1:SUCCESS",
        "QUALITY_GATE#1:SUCCESS",
        "DEPLOY#1:SUCCESS",
      ]);
      expect(done.checkpoints.filter((c) => c.waiting)).toEqual([]);
      await eventually(
        async () => (await ok<Iteration>("GET", `/iterations/${iterationId}`)).status === "RELEASED",
        "iteration RELEASED",
        30_000,
        200,
      );
    } finally {
      await events.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Iteration, Pipeline, ReleaseResponse, RepoBinding } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import { ok as okAt } from "./support/client.js";
import { eventually, git, startNpmPlatform, type NpmStartPlatform } from "@procode/test-kit";

/**
 * `npm start` as a supervisor (docs/operations.md "npm start"): each of the four services is killed
 * outright during a release; npm start brings each back by itself and the release ends SUCCESS with
 * nobody acting. No process ends but those killed.
 */

let platform: NpmStartPlatform;
let token: string;

beforeAll(async () => {
  // Builds and deployments of the reference ops module take 30 s: the release is in flight
  // through every kill below.
  platform = await startNpmPlatform({ DEFAULT_DURATION_MS: "30000" });
  token = await signToken({ sub: "operator", team: "default" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "agent.git");
}, 300_000);

afterAll(async () => {
  await platform?.stop();
});

const ok = <T>(method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

async function isReady(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/readyz`)).ok;
  } catch {
    return false;
  }
}

describe("npm start supervises the platform's processes", () => {
  it("brings each of the four services back after a SIGKILL during a release, which ends SUCCESS by itself", async () => {
    const app = await ok<App>("POST", "/apps", {
      name: "supervised-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "local://agent",
      scaffoldTemplate: "python-agent",
    });
    await eventually(
      async () => {
        const r = await ok<RepoBinding>("GET", `/apps/${app.id}/repo`);
        return r.state === "BOUND" && r.scaffold.state === "PUSHED" ? r : null;
      },
      "repository bound and scaffold pushed",
      60_000,
      300,
    );
    const it0 = await ok<Iteration>("POST", "/iterations", {
      appId: app.id,
      name: "first",
      sourceBranch: "main",
    });
    await eventually(
      async () =>
        (await ok<Iteration>("GET", `/iterations/${it0.id}`)).status === "DEVELOPING" ? true : null,
      "iteration DEVELOPING",
      30_000,
      300,
    );
    await ok("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
    await ok("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "STAGING" });
    const release = await ok<ReleaseResponse>("POST", `/iterations/${it0.id}/release`, { tag: "v1.0.0" });
    const pipelineId = release.pipelineId!;

    for (const name of ["app-svc", "dev-svc", "pipeline-engine", "ops-gateway"]) {
      const before = platform.pidOf(name);
      expect(before, `${name} announced with its pid`).toBeGreaterThan(0);
      try {
        process.kill(before!, "SIGKILL");
      } catch (err) {
        throw new Error(
          `could not kill ${name} (pid ${before}): ${String(err)}; npm start printed:\n${platform.outputTail()}`,
        );
      }
      const url = platform.urlOf(name);
      const after = await eventually(
        async () => {
          const pid = platform.pidOf(name);
          return pid !== undefined && pid !== before && (await isReady(url)) ? pid : null;
        },
        `${name} started again by npm start and ready`,
        90_000,
        300,
      );
      expect(after).not.toBe(before);
    }
    // Nobody acts: the release goes on to its end by itself.
    const done = await eventually(
      async () => {
        const p = await ok<Pipeline>("GET", `/pipelines/${pipelineId}`);
        return p.status === "SUCCESS" || p.status === "FAILED" || p.status === "CANCELLED" ? p : null;
      },
      "the release to end",
      180_000,
      500,
    );
    // No process ended but the four killed above (a crash is a defect, as in the chaos bench's
    // invariant "no process ended on its own").
    expect(platform.exits(), `the deaths npm start announced; it printed:\n${platform.outputTail()}`).toEqual(
      ["app-svc", "dev-svc", "pipeline-engine", "ops-gateway"].map((name) => ({ name, how: "SIGKILL" })),
    );
    expect(done.status).toBe("SUCCESS");
    expect(done.checkpoints.filter((c) => c.status === "SUCCESS").map((c) => c.stage)).toEqual([
      "CODE_CHECK",
      "BUILD",
      "PACKAGE",
      "QUALITY_GATE",
      "DEPLOY",
    ]);
    await eventually(
      async () => ((await ok<Iteration>("GET", `/iterations/${it0.id}`)).status === "RELEASED" ? true : null),
      "iteration RELEASED",
      60_000,
      500,
    );
  });
});

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Iteration, Pipeline, ReleaseResponse, RepoBinding } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  REPO_ROOT,
  sql,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { ok as okAt } from "./support/client.js";

/**
 * The backup/restore drill of docs/operations.md "Backup and restore", over the real platform:
 * five releases in flight (two building their image, three deploying), `procode-admin backup` while
 * they run, the platform going on past the backup (images built, deployments created), then stopped;
 * the backup restored into an empty database and the platform started on it, on the same NATS
 * streams, the same repositories and the same ops module. Every release ends SUCCESS, the engine's
 * transition log is whole, and the ops module holds one build and one deployment per release.
 */

let infra: TestInfra;
let platform: Platform;
let token: string;
let workdir: string;
let restoredUrl: string | undefined;

const RELEASES = 5;
/** The first two are building at the backup, the other three deploying. */
const BUILDING = 2;

beforeAll(async () => {
  infra = await createTestInfra("e2e_drill");
  platform = await startPlatform(infra, {
    env: {
      "pipeline-engine": {
        RETRY_BASE_MS: "200",
        RETRY_MAX_MS: "1000",
        STAGE_REPUBLISH_MS: "2000",
        STAGE_REPUBLISH_MAX_MS: "5000",
        STARTUP_REDRIVE_SPREAD_MS: "500",
      },
      "dev-svc": {
        BIND_POLL_MS: "200",
        BIND_RETRY_BASE_MS: "500",
        BUILD_POLL_MS: "300",
        STAGE_LEASE_MS: "3000",
      },
      "ops-gateway": {
        OPS_POLL_INTERVAL_MS: "300",
        OPS_TIMEOUT_MS: "2000",
        OPS_LEASE_MS: "4000",
        OPS_RETRY_BASE_MS: "200",
        OPS_RETRY_MAX_MS: "1000",
      },
      "ops-module": { DEFAULT_DURATION_MS: "500" },
    },
  });
  token = await signToken({ sub: "drill", team: "drill-team" }, platform.jwtSecret);
  workdir = mkdtempSync(path.join(os.tmpdir(), "procode-drill-"));
});

afterAll(async () => {
  await platform?.stop();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  if (restoredUrl) {
    const name = new URL(restoredUrl).pathname.slice(1);
    await sql(infra.adminUrl, `drop database if exists "${name}" with (force)`).catch(() => {});
  }
  await infra?.cleanup();
});

const ok = <T>(method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

/** `procode-admin <command> <file>` (scripts/admin.ts) against `databaseUrl`, as the runbook runs it. */
function admin(command: "backup" | "restore", file: string, databaseUrl: string): string {
  return execFileSync(process.execPath, ["--import", "tsx", "scripts/admin.ts", command, file], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: "utf8",
  });
}

async function control(method: string, url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${platform.opsModuleUrl}${url}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${url}`).toBe(200);
  return ((await res.json()) as { data: unknown }).data;
}

/** A build or deployment as the ops module's control API shows it. */
interface OpsWork {
  id: string;
  appId: number;
  status: string;
  request: { image: string };
  idempotencyKey: string | null;
  createCalls: number;
}

const opsWork = async (kind: "builds" | "deployments") =>
  ((await control("GET", `/_control/${kind}`)) as { items: OpsWork[] }).items;

let lastSeen: Pipeline[] = [];
const pipelines = async (ids: number[]) => {
  lastSeen = await Promise.all(ids.map((id) => ok<Pipeline>("GET", `/pipelines/${id}`)));
  return lastSeen;
};

/** `eventually`, saying where the pipelines last stood when it times out. */
async function until<T>(fn: () => Promise<T>, what: string, timeoutMs: number): Promise<NonNullable<T>> {
  try {
    return await eventually(fn, what, timeoutMs, 300);
  } catch (err) {
    const seen = lastSeen.map((p) => ({
      id: p.id,
      state: p.state,
      deployStatus: p.deployStatus,
      checkpoints: p.checkpoints.map(
        (c) => `${c.stage}#${c.attempt}:${c.status}${c.error ? ` ${c.error}` : ""}`,
      ),
    }));
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(seen)}`);
  }
}

async function releaseApp(i: number): Promise<{ app: App; iterationId: number; image: string }> {
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", `drill-${i}.git`);
  const app = await ok<App>("POST", "/apps", {
    name: `drill-${i}`,
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl: `local://drill-${i}`,
    scaffoldTemplate: "python-agent",
  });
  await eventually(
    async () => {
      const r = await ok<RepoBinding>("GET", `/apps/${app.id}/repo`);
      return r.state === "BOUND" && r.scaffold.state === "PUSHED";
    },
    `app ${app.name}: repository bound and scaffold pushed`,
    90_000,
    300,
  );
  // The drill is about PACKAGE and DEPLOY in flight: the quality gate (tested in
  // quality-gate.int.test.ts) would only move the windows the backup is timed into.
  await ok("PUT", `/apps/${app.id}/procode-config`, { stageConfigs: { QUALITY_GATE: { enabled: false } } });
  // Long enough that each release is still at its stage when the backup is taken.
  await control(
    "PUT",
    `/_control/apps/${app.id}`,
    i < BUILDING
      ? { build: { durationMs: 20_000 }, deploy: { durationMs: 15_000 } }
      : { deploy: { durationMs: 20_000 } },
  );
  const it0 = await ok<Iteration>("POST", "/iterations", {
    appId: app.id,
    name: "drill",
    sourceBranch: "main",
  });
  await eventually(
    async () => (await ok<Iteration>("GET", `/iterations/${it0.id}`)).status === "DEVELOPING",
    `iteration of ${app.name} DEVELOPING`,
    60_000,
    300,
  );
  await ok("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "TESTING" });
  await ok("POST", `/iterations/${it0.id}/proceed`, { targetPhase: "STAGING" });
  return { app, iterationId: it0.id, image: `drill-${i}:v1.0.0` };
}

interface TransitionRow {
  pipeline_id: string;
  seq: number;
  from_state: string;
  to_state: string;
}

/** Per pipeline: seq 1..n with no gap or repeat, each row from where the previous ended, ending at its state. */
async function transitionLogProblems(databaseUrl: string, ids: number[]): Promise<string[]> {
  const rows = await sql<TransitionRow>(
    databaseUrl,
    `select pipeline_id, seq, from_state, to_state from pipeline.transition
      where pipeline_id = any($1) order by pipeline_id, seq`,
    [ids],
  );
  const states = await sql<{ id: string; state: string }>(
    databaseUrl,
    `select id, state from pipeline.pipeline where id = any($1)`,
    [ids],
  );
  const problems: string[] = [];
  for (const { id, state } of states) {
    const log = rows.filter((r) => r.pipeline_id === id);
    log.forEach((r, i) => {
      if (r.seq !== i + 1) problems.push(`pipeline ${id}: row ${i + 1} has seq ${r.seq}`);
      if (i > 0 && r.from_state !== log[i - 1]!.to_state)
        problems.push(`pipeline ${id}: seq ${r.seq} starts at ${r.from_state}, not ${log[i - 1]!.to_state}`);
    });
    if (log.at(-1)?.to_state !== state)
      problems.push(`pipeline ${id}: log ends at ${log.at(-1)?.to_state}, state ${state}`);
  }
  return problems;
}

describe("backup and restore drill", () => {
  it("restores a backup taken with releases in PACKAGE and DEPLOY: each ends SUCCESS, its log whole, nothing made twice at ops", async () => {
    const apps: Awaited<ReturnType<typeof releaseApp>>[] = [];
    for (let i = 0; i < RELEASES; i++) apps.push(await releaseApp(i));
    const ids: number[] = [];
    for (const { iterationId } of apps) {
      const r = await ok<ReleaseResponse>("POST", `/iterations/${iterationId}/release`, { tag: "v1.0.0" });
      ids.push(r.pipelineId!);
    }
    const building = ids.slice(0, BUILDING);
    const deploying = ids.slice(BUILDING);

    // In flight: the first ones building their image at the ops module, the others deploying.
    await until(
      async () => {
        const ps = await pipelines(ids);
        const builds = await opsWork("builds");
        return ps.every((p, i) =>
          i < BUILDING
            ? p.state === "PACKAGE" && builds.some((b) => b.request.image.endsWith(apps[i]!.image))
            : p.state === "DEPLOYING",
        );
      },
      "two releases building and three deploying",
      180_000,
    );
    const file = path.join(workdir, "procode.dump");
    expect(admin("backup", file, infra.databaseUrl)).toContain("(schemas app, dev, pipeline, ops)");

    // The platform goes on past the backup: the two images are built and their deployments created.
    await until(
      async () => (await pipelines(building)).every((p) => p.state === "DEPLOYING"),
      "the building releases deploying after the backup",
      90_000,
    );
    await platform.stopServices();

    const restored = new URL(infra.databaseUrl);
    restored.pathname = `${restored.pathname}_restored`;
    restoredUrl = restored.toString();
    expect(admin("restore", file, restoredUrl)).toContain("restored");
    // What happened after the backup is gone: the building releases are at PACKAGE again.
    const atBackup = await sql<{ state: string }>(
      restoredUrl,
      `select state from pipeline.pipeline where id = any($1) order by id`,
      [building],
    );
    expect(atBackup.map((p) => p.state)).toEqual(building.map(() => "PACKAGE"));
    await platform.startServices(restoredUrl);

    const done = await until(
      async () => {
        const ps = await pipelines(ids);
        return ps.every((p) => p.status !== "RUNNING" && p.status !== "PENDING") ? ps : null;
      },
      "every release to end after the restore",
      180_000,
    );
    expect(done.map((p) => p.status)).toEqual(ids.map(() => "SUCCESS"));
    for (const p of done) {
      // One attempt per stage: the restore redid work under the same attempts, it did not fail any.
      expect(p.checkpoints.map((c) => `${c.stage}#${c.attempt}:${c.status}`)).toEqual([
        "CODE_CHECK#1:SUCCESS",
        "BUILD#1:SUCCESS",
        "PACKAGE#1:SUCCESS",
        "DEPLOY#1:SUCCESS",
      ]);
    }
    for (const { iterationId } of apps) {
      await eventually(
        async () => (await ok<Iteration>("GET", `/iterations/${iterationId}`)).status === "RELEASED",
        `iteration ${iterationId} RELEASED`,
        60_000,
        300,
      );
    }

    const parents = done.map((p) => p.parentId!);
    expect(await transitionLogProblems(restoredUrl, [...ids, ...parents])).toEqual([]);

    // The outside systems: one build and one deployment per release, whatever was asked again.
    const builds = await opsWork("builds");
    const deployments = await opsWork("deployments");
    for (const [i, { app, image }] of apps.entries()) {
      const mine = builds.filter((b) => b.appId === app.id);
      expect(
        mine.map((b) => b.request.image.split("/").at(-1)),
        `builds of ${app.name}`,
      ).toEqual([image]);
      expect(mine[0]!.idempotencyKey).toMatch(new RegExp(`^procode-package-${ids[i]}-1-[0-9a-f]{12}$`));
      const deployed = deployments.filter((d) => d.appId === app.id);
      expect(
        deployed.map((d) => d.request.image.split("/").at(-1)),
        `deployments of ${app.name}`,
      ).toEqual([image]);
      expect(deployed[0]!.status).toBe("SUCCESS");
    }
    // The restore really asked again: the building releases' builds were asked for once more (and
    // answered by their key), as were their deployments.
    for (const i of building.keys()) {
      const app = apps[i]!.app;
      expect(
        builds.find((b) => b.appId === app.id)!.createCalls,
        `build creates of ${app.name}`,
      ).toBeGreaterThan(1);
      expect(
        deployments.find((d) => d.appId === app.id)!.createCalls,
        `deploy creates of ${app.name}`,
      ).toBeGreaterThan(1);
    }
    expect(deploying).toHaveLength(RELEASES - BUILDING);
  });
});

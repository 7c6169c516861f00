import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BareRepo, git } from "@procode/git-emulators";
import type { ConcurrencyPolicy, IterationPhase } from "@procode/contracts";
import {
  createTestInfra,
  eventually,
  serviceEnv,
  ServiceProcess,
  sql,
  TcpProxy,
  type TestInfra,
} from "@procode/test-kit";
import {
  appSnapshot,
  bearer,
  newAppId,
  newKeys,
  publishAppEvent,
  randomSecret,
  startDevSvc,
  type AppSpec,
  type DevSvc,
} from "../dev-svc.js";
import { sh } from "../git-cli.js";

/**
 * What an iteration test file runs on: its own database and NATS prefix, dev-svc in-process
 * (listening, so LOCAL post-receive hooks reach it), and the real pipeline-engine as a process on the
 * same infrastructure. Stage work is left to whatever runs it: the engine's AUTO retries are spaced a
 * minute apart, so a release stays RUNNING for the length of a test whatever its first stage does.
 */
export interface Harness {
  infra: TestInfra;
  keys: string;
  svc: DevSvc;
  engine: ServiceProcess;
  dir: string;
  localRoot: string;
  /** Bearer of team-a (alice) and of team-b (bob). */
  auth: string;
  otherAuth: string;
  /** Between dev-svc and NATS, when asked for (the engine connects directly). */
  natsProxy: TcpProxy | undefined;
  startEngine(): Promise<ServiceProcess>;
  stopEngine(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  label: string,
  devEnv: Record<string, string> = {},
  opts: { natsProxy?: boolean } = {},
): Promise<Harness> {
  const infra = await createTestInfra(label);
  const natsProxy = opts.natsProxy ? TcpProxy.forUrl(infra.natsUrl) : undefined;
  await natsProxy?.start();
  const dir = await mkdtemp(path.join(tmpdir(), "iterations-"));
  const localRoot = path.join(dir, "local");
  await mkdir(localRoot, { recursive: true });
  const keys = newKeys();
  const svc = await startDevSvc(
    infra,
    keys,
    {
      LOCAL_GIT_ROOT: localRoot,
      REPO_CACHE_TTL_MS: "0",
      RPC_TIMEOUT_MS: "3000",
      ...(natsProxy ? { NATS_URL: natsProxy.url(infra.natsUrl) } : {}),
      ...devEnv,
    },
    undefined,
    true,
  );
  const startEngine = () =>
    ServiceProcess.start({
      name: "pipeline-engine",
      dir: "services/pipeline-engine",
      env: serviceEnv(infra, {
        PORT: "0",
        LOG_LEVEL: "info",
        RETRY_BASE_MS: "60000",
        RETRY_MAX_MS: "60000",
        STAGE_REPUBLISH_MS: "60000",
        STARTUP_REDRIVE_SPREAD_MS: "0",
      }),
      ready: /pipeline-engine listening/,
    });
  const h: Harness = {
    infra,
    keys,
    svc,
    engine: await startEngine(),
    dir,
    localRoot,
    auth: await bearer(infra, "team-a", "alice"),
    otherAuth: await bearer(infra, "team-b", "bob"),
    natsProxy,
    startEngine: async () => (h.engine = await startEngine()),
    stopEngine: () => h.engine.stop(),
    close: async () => {
      await h.engine?.stop();
      await svc.close();
      await natsProxy?.stop();
      await infra.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export interface ApiAnswer {
  status: number;
  body: { code: number; message: string; data: any };
}

/** A call to dev-svc over its real HTTP stack (app.inject). */
export async function api(
  h: Harness,
  method: "GET" | "POST",
  url: string,
  payload?: unknown,
  auth = h.auth,
): Promise<ApiAnswer> {
  const res = await h.svc.deps.app.inject({
    method,
    url,
    headers: {
      authorization: auth,
      ...(payload === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(payload === undefined
      ? {}
      : { payload: typeof payload === "string" ? payload : JSON.stringify(payload) }),
  });
  return { status: res.statusCode, body: res.json() };
}

/** A call to the engine process's REST API (as the gateway would route it). */
export async function engineApi(h: Harness, method: "GET" | "POST", url: string, auth = h.auth) {
  const res = await fetch(`${h.engine.url}${url}`, {
    method,
    headers: { authorization: auth, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
    ...(method === "POST" ? { body: "{}" } : {}),
  });
  return { status: res.status, body: (await res.json()) as { code: number; message: string; data: any } };
}

export const GIT_AUTHOR = { name: "Tester", email: "tester@example.com" };

/** A bare LOCAL repository `<root>/<name>.git` with a first commit on main. */
export async function localRepo(h: Harness, name: string): Promise<BareRepo> {
  const gitDir = path.join(h.localRoot, `${name}.git`);
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", gitDir]);
  const repo = new BareRepo(gitDir);
  await repo.commitActions(
    "main",
    "first commit",
    [{ action: "create", path: "README.md", content: Buffer.from("# agent\n") }],
    GIT_AUTHOR,
    null,
  );
  return repo;
}

/** A commit pushed with `git push` (so the repository's post-receive hook runs, as for a person). */
export async function pushCommit(h: Harness, repo: BareRepo, branch: string, file: string): Promise<string> {
  const work = await mkdtemp(path.join(h.dir, "work-"));
  await sh(["clone", "--quiet", repo.gitDir, work], h.dir);
  await sh(["checkout", "--quiet", "-B", branch, `origin/${branch}`], work).catch(() =>
    sh(["checkout", "--quiet", "-b", branch], work),
  );
  await sh(
    ["-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--allow-empty", "-m", `change ${file}`],
    work,
  );
  await sh(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], work);
  const { stdout } = await sh(["rev-parse", "HEAD"], work);
  await rm(work, { recursive: true, force: true });
  return stdout.trim();
}

export interface AppOptions extends Partial<Omit<AppSpec, "appId" | "webhookUrl" | "webhookSecret">> {
  phases?: IterationPhase[];
  concurrency?: ConcurrencyPolicy;
  /** Wait until the repository is BOUND (its webhook installed). */
  bound?: boolean;
}

/**
 * An app as app-svc announces it (app.created.v1, webhook secret sealed with the shared key ring),
 * received by dev-svc and by the engine before this returns.
 */
export async function createApp(h: Harness, o: AppOptions): Promise<number> {
  const appId = newAppId();
  const gitType = o.gitType ?? "LOCAL";
  const snap = appSnapshot(h.keys, {
    appId,
    gitType,
    gitRepoUrl: o.gitRepoUrl ?? "local://missing",
    credentialId: o.credentialId ?? null,
    webhookUrl: `${h.svc.url}/webhooks/${gitType.toLowerCase()}/${appId}`,
    webhookSecret: randomSecret(),
    ...(o.team ? { team: o.team } : {}),
    ...(o.devMode ? { devMode: o.devMode } : {}),
  });
  if (snap.procode) {
    snap.procode.phases = o.phases ?? snap.procode.phases;
    snap.procode.concurrency = o.concurrency ?? snap.procode.concurrency;
  }
  await publishAppEvent(h.svc, "created", snap);
  await eventually(
    async () =>
      (await sql(h.infra.databaseUrl, `select 1 from dev.app_projection where app_id = $1`, [appId])).length,
    `app ${appId} projected by dev-svc`,
  );
  await eventually(
    async () =>
      (await sql(h.infra.databaseUrl, `select 1 from pipeline.app_settings where app_id = $1`, [appId]))
        .length,
    `app ${appId} settings received by pipeline-engine`,
    20_000,
  );
  if (o.bound) {
    await eventually(
      async () =>
        (await sql(h.infra.databaseUrl, `select state from dev.git_repo where app_id = $1`, [appId]))[0]?.[
          "state"
        ] === "BOUND",
      `repository of app ${appId} bound`,
    );
  }
  return appId;
}

/** Creates an iteration and waits until the engine has it in DEVELOPING. */
export async function developingIteration(h: Harness, appId: number, branch = "main"): Promise<any> {
  const created = await api(h, "POST", "/iterations", {
    appId,
    name: `iteration of ${branch}`,
    sourceBranch: branch,
  });
  if (created.status !== 200) throw new Error(`iteration not created: ${JSON.stringify(created.body)}`);
  return waitIteration(h, created.body.data.id, (it) => it.status === "DEVELOPING", "DEVELOPING");
}

/** Polls GET /iterations/{id} until `ok` holds. */
export async function waitIteration(
  h: Harness,
  id: number,
  ok: (it: any) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<any> {
  return eventually(
    async () => {
      const r = await api(h, "GET", `/iterations/${id}`);
      return r.status === 200 && ok(r.body.data) ? r.body.data : null;
    },
    `iteration ${id} ${what}`,
    timeoutMs,
    50,
  );
}

/** Rows of dev-svc's outbox of one type. */
export async function outboxOf(h: Harness, type: string): Promise<{ payload: any }[]> {
  return sql(h.infra.databaseUrl, `select payload from dev.outbox where type = $1 order by created_at`, [
    type,
  ]);
}

/**
 * What the chaos bench asks of the platform, through the gateway as a user would: apps on LOCAL
 * repositories with the python-agent scaffold (released in one phase, RELEASE), then one iteration
 * and one release per pipeline, spread over the apps, with a bounded number in flight.
 */
import type { App, Iteration, ReleaseResponse, RepoBinding } from "@procode/contracts";
import pg from "pg";
import { git } from "@procode/test-kit/platform";
import { ApiError, type Api } from "./api.js";
import { sleep } from "./infra.js";

interface ReleaseRecord {
  index: number;
  appId: number;
  iterationId: number;
  pipelineId: number | null;
}

/** Runs `fn` over `items`, `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * Creates `count` apps, each on its own bare LOCAL repository, waits for the scaffold to be pushed,
 * and sets their phases to RELEASE only (a release straight from a new iteration), waiting until
 * dev-svc and the engine have both projected the setting.
 */
export async function setUpApps(
  api: Api,
  opts: { count: number; repoRoot: string; databaseUrl: string },
): Promise<number[]> {
  const cred = await api.ok<{ id: string }>("POST", "/credentials", {
    gitType: "LOCAL",
    name: "chaos-local",
    token: "unused-local",
  });
  const appIds: number[] = [];
  await pool(
    Array.from({ length: opts.count }, (_, i) => i),
    4,
    async (i) => {
      const name = `chaos-${i}`;
      git(opts.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", `${name}.git`);
      const app = await api.ok<App>("POST", "/apps", {
        name,
        devMode: "pro-code",
        techStack: "python",
        gitRepoUrl: `local://${name}`,
        scaffoldTemplate: "python-agent",
      });
      await until(`app ${app.id}: repository bound and scaffold pushed`, async () => {
        const r = await api.call<RepoBinding>("GET", `/apps/${app.id}/repo`);
        return r.code === 0 && r.data.state === "BOUND" && r.data.scaffold.state === "PUSHED";
      });
      await api.ok("PUT", `/apps/${app.id}/procode-config`, {
        gitRepoUrl: `local://${name}`,
        credentialId: cred.id,
        phases: ["RELEASE"],
      });
      appIds.push(app.id);
    },
  );
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  await db.connect();
  try {
    await until("both projections of the apps' phases", async () => {
      const { rows } = await db.query<{ dev: number; engine: number }>(
        `select (select count(*)::int from dev.app_projection where procode->'phases' = '["RELEASE"]'::jsonb) as dev,
                (select count(*)::int from pipeline.app_settings where phases = '["RELEASE"]'::jsonb) as engine`,
      );
      return rows[0]!.dev >= opts.count && rows[0]!.engine >= opts.count;
    });
  } finally {
    await db.end();
  }
  return appIds.sort((a, b) => a - b);
}

export interface DriverState {
  submitted: number;
  released: ReleaseRecord[];
  /** Requests the platform refused (not a transient failure): each a message. */
  refused: string[];
  done: boolean;
}

/**
 * Releases `total` pipelines: for each, a new iteration on `main` of the next app and a release of a
 * new tag. At most `inFlight` releases run or wait at once (`finished()` says how many ended).
 */
export async function releaseAll(
  api: Api,
  opts: {
    appIds: number[];
    total: number;
    inFlight: number;
    concurrency: number;
    finished: () => number;
    state: DriverState;
  },
): Promise<void> {
  const { appIds, state } = opts;
  let next = 0;
  const one = async (index: number) => {
    const appId = appIds[index % appIds.length]!;
    const tag = `v1.0.${Math.floor(index / appIds.length)}`;
    try {
      const it = await api.ok<Iteration>("POST", "/iterations", {
        appId,
        name: `release-${index}`,
        sourceBranch: "main",
      });
      const rel = await api.ok<ReleaseResponse>("POST", `/iterations/${it.id}/release`, { tag });
      state.released.push({ index, appId, iterationId: it.id, pipelineId: rel.pipelineId ?? null });
    } catch (err) {
      state.refused.push(
        err instanceof ApiError ? err.message : `release ${index}: ${(err as Error).message}`,
      );
    }
  };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.total) {
        while (state.submitted - opts.finished() >= opts.inFlight) await sleep(200);
        // Another worker may have taken the last one meanwhile.
        if (next >= opts.total) break;
        const index = next++;
        state.submitted++;
        await one(index);
      }
    }),
  );
  state.done = true;
}

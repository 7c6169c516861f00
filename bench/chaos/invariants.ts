/**
 * The invariants of a chaos run, checked from what the services recorded: the engine's pipelines,
 * transition log and checkpoints, dev-svc's stage runs and releases, ops-gateway's deployments and
 * observations, and the reference ops module's own record of what it was asked to create.
 */
import pg from "pg";
import { PHASE_STAGES } from "@procode/contracts";
import { transitionLogProblems, type TransitionRow } from "@procode/pipeline-engine/transition-log";

export interface Check {
  name: string;
  ok: boolean;
  /** Counts, in a few words. */
  counts: string;
  /** The first few violations. */
  problems: string[];
}

interface CheckpointRow {
  stage: string;
  status: string;
  attempt: number;
}

interface PipelineRow {
  id: string;
  type: "ITERATION" | "PHASE";
  ref_id: string;
  status: string;
  state: string;
  step: string | null;
  latest_child_status: string | null;
  transition_seq: number;
  deploy_status: string | null;
  failed_stage: string | null;
  error: string | null;
  checkpoints: CheckpointRow[];
}

interface OpsWork {
  id: string;
  idempotencyKey: string | null;
  createCalls: number;
}

const PHASE_DONE = new Set(["SUCCESS", "FAILED", "CANCELLED"]);
const MANUAL_PHASES = new Set(["DEVELOPING", "TESTING", "STAGING"]);
/** The stages dev-svc runs with a stage_run each: every one but DEPLOY (ops-gateway's). */
const RUNNER_STAGES = new Set<string>(PHASE_STAGES.filter((s) => s !== "DEPLOY"));
const ENDED = new Set(["SUCCESS", "FAILED", "TIMEOUT", "CANCELLED"]);
const APPLIED_VIA = new Set(["POLL", "CALLBACK", "TIMEOUT"]);

/** Is this pipeline terminal, or waiting at a gate (something only a person moves on)? */
function isSettled(p: Pick<PipelineRow, "type" | "status" | "state" | "step" | "latest_child_status">) {
  if (p.type === "PHASE") return PHASE_DONE.has(p.status) || p.step === "AWAIT_PROCEED";
  if (p.status === "SUCCESS" || p.status === "CANCELLED") return true;
  if (MANUAL_PHASES.has(p.state)) return true;
  return (
    p.state === "RELEASE" && (p.latest_child_status === "FAILED" || p.latest_child_status === "CANCELLED")
  );
}

/** SQL of the same rule, for polling while the run settles. */
export const UNSETTLED_SQL = `
  select count(*)::int as n from pipeline.pipeline
  where case when type = 'PHASE'
    then status not in ('SUCCESS', 'FAILED', 'CANCELLED') and step is distinct from 'AWAIT_PROCEED'
    else status not in ('SUCCESS', 'CANCELLED') and state not in ('DEVELOPING', 'TESTING', 'STAGING')
      and not (state = 'RELEASE' and latest_child_status in ('FAILED', 'CANCELLED'))
  end`;

function check(name: string, problems: string[], counts: string): Check {
  return { name, ok: problems.length === 0, counts, problems: problems.slice(0, 5) };
}

const key = (...parts: (string | number)[]) => parts.join("/");

function countBy<T>(items: T[], f: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(f(i), (m.get(f(i)) ?? 0) + 1);
  return m;
}

async function opsList(opsModuleUrl: string, kind: "deployments" | "builds"): Promise<OpsWork[]> {
  const res = await fetch(`${opsModuleUrl}/_control/${kind}`);
  const body = (await res.json()) as { data: { items: OpsWork[] } };
  return body.data.items;
}

export interface InvariantReport {
  checks: Check[];
  figures: Record<string, string | number>;
}

export async function checkInvariants(databaseUrl: string, opsModuleUrl: string): Promise<InvariantReport> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const q = async <T extends pg.QueryResultRow>(text: string) => (await db.query<T>(text)).rows;
  try {
    const pipelines = await q<PipelineRow>(
      `select id::text, type, ref_id::text, status, state, step, latest_child_status, transition_seq,
              deploy_status, failed_stage, error, checkpoints from pipeline.pipeline`,
    );
    const transitions = await q<TransitionRow>(
      `select pipeline_id::text, seq, from_state, to_state, event, actor from pipeline.transition`,
    );
    const stageRuns = await q<{
      pipeline_id: string;
      stage: string;
      attempt: number;
      status: string;
      runs: number;
    }>(`select pipeline_id::text, stage, attempt, status, runs from dev.stage_run`);
    const iterations = await q<{ id: string }>(`select id::text from dev.iteration`);
    const releases = await q<{ id: string; status: string; pipeline_id: string | null }>(
      `select id::text, status, pipeline_id::text from dev.iteration_phase`,
    );
    const deployments = await q<{
      id: string;
      pipeline_id: string;
      attempt: number;
      status: string;
      request_key: string;
      deploy_id: string | null;
      outcome: string | null;
      outcome_via: string | null;
      applied: number;
    }>(
      `select d.id::text, d.pipeline_id::text, d.attempt, d.status, d.request_key::text, d.deploy_id,
              d.outcome, d.outcome_via,
              (select count(*)::int from ops.deployment_observation o
                where o.deployment_id = d.id and o.effect = 'APPLIED') as applied
       from ops.deployment d`,
    );
    const finishedEvents = await q<{ pipeline_id: string; attempt: number; outcome: string }>(
      `select payload->'data'->>'pipelineId' as pipeline_id, (payload->'data'->>'attempt')::int as attempt,
              payload->'data'->>'outcome' as outcome
       from ops.outbox where type = 'ops.deployment_finished.v1'`,
    );
    const opsDeployments = await opsList(opsModuleUrl, "deployments");
    const opsBuilds = await opsList(opsModuleUrl, "builds");

    const checks: Check[] = [];
    const phase = pipelines.filter((p) => p.type === "PHASE");
    const iterationPipelines = pipelines.filter((p) => p.type === "ITERATION");

    // 1. Every pipeline terminal or waiting at a gate.
    {
      const stuck = pipelines.filter((p) => !isSettled(p));
      const gate = pipelines.filter(
        (p) => isSettled(p) && !PHASE_DONE.has(p.status) && p.status !== "CANCELLED",
      );
      checks.push(
        check(
          "every pipeline terminal or waiting at a gate",
          stuck.map(
            (p) =>
              `${p.type} ${p.id}: ${p.status}/${p.state} step ${p.step ?? "-"} deploy ${p.deploy_status ?? "-"}`,
          ),
          `${pipelines.length} pipelines: ${pipelines.length - stuck.length - gate.length} terminal, ${gate.length} at a gate, ${stuck.length} neither`,
        ),
      );
    }

    // 1b. Nothing here is meant to fail: the repositories are sound and every fault is one the
    // platform recovers from, so a failed or cancelled release is a fault that was not absorbed.
    {
      const failed = phase.filter((p) => p.status !== "SUCCESS" && PHASE_DONE.has(p.status));
      checks.push(
        check(
          "every release succeeded despite the faults",
          failed.map(
            (p) => `pipeline ${p.id}: ${p.status} at ${p.failed_stage ?? p.state}: ${p.error ?? "-"}`,
          ),
          `${phase.filter((p) => p.status === "SUCCESS").length} of ${phase.length} SUCCESS`,
        ),
      );
    }

    // 2. Every iteration and every recorded release has its pipeline, and dev-svc shows its status.
    {
      const problems: string[] = [];
      const iterationRefs = new Set(iterationPipelines.map((p) => p.ref_id));
      for (const it of iterations)
        if (!iterationRefs.has(it.id)) problems.push(`iteration ${it.id} has no ITERATION pipeline`);
      const phaseByRef = new Map(phase.map((p) => [p.ref_id, p]));
      let agree = 0;
      for (const r of releases) {
        const p = phaseByRef.get(r.id);
        if (!p) problems.push(`release ${r.id} (${r.status}) has no PHASE pipeline`);
        else if (r.pipeline_id !== p.id)
          problems.push(`release ${r.id}: dev-svc names pipeline ${r.pipeline_id}, engine ${p.id}`);
        else if (r.status !== p.status)
          problems.push(`release ${r.id}: dev-svc says ${r.status}, pipeline ${p.id} is ${p.status}`);
        else agree++;
      }
      checks.push(
        check(
          "every iteration and release has its pipeline; dev-svc agrees",
          problems,
          `${iterations.length} iterations, ${releases.length} releases, ${agree} statuses agree`,
        ),
      );
    }

    // 3. Transition log: no gap, no duplicate, only legal edges, and it ends where the pipeline is.
    {
      const types = new Map(pipelines.map((p) => [p.id, p.type]));
      const problems = transitionLogProblems(transitions, types);
      const perPipeline = countBy(transitions, (t) => t.pipeline_id);
      const last = new Map<string, { seq: number; to: string }>();
      for (const t of transitions) {
        const l = last.get(t.pipeline_id);
        if (!l || t.seq > l.seq) last.set(t.pipeline_id, { seq: t.seq, to: t.to_state });
      }
      for (const p of pipelines) {
        const n = perPipeline.get(p.id) ?? 0;
        if (n !== p.transition_seq)
          problems.push(`pipeline ${p.id}: ${n} transitions logged, transition_seq ${p.transition_seq}`);
        const l = last.get(p.id);
        if ((l?.to ?? "PENDING") !== p.state)
          problems.push(`pipeline ${p.id}: log ends at ${l?.to ?? "PENDING"}, state ${p.state}`);
      }
      checks.push(
        check(
          "transition log: no gap, no duplicate, legal edges",
          problems,
          `${transitions.length} transitions over ${perPipeline.size} pipelines`,
        ),
      );
    }

    // 4. The engine: at most one result per (pipeline, stage, attempt).
    const attempts: { pipeline: PipelineRow; stage: string; attempt: number; status: string }[] = [];
    {
      const problems: string[] = [];
      for (const p of phase) {
        const seen = new Set<string>();
        for (const c of p.checkpoints) {
          const k = key(c.stage, c.attempt);
          if (seen.has(k)) problems.push(`pipeline ${p.id}: ${c.stage} attempt ${c.attempt} recorded twice`);
          seen.add(k);
          attempts.push({ pipeline: p, stage: c.stage, attempt: c.attempt, status: c.status });
        }
      }
      const retried = attempts.filter((a) => a.attempt > 1).length;
      checks.push(
        check(
          "engine: one checkpoint per (pipeline, stage, attempt)",
          problems,
          `${attempts.length} stage attempts (${retried} of them retries)`,
        ),
      );
    }

    // 5. dev-svc: one stage_run per CODE_CHECK/BUILD/PACKAGE/QUALITY_GATE attempt, with the engine's result.
    {
      const problems: string[] = [];
      const runs = new Map(stageRuns.map((r) => [key(r.pipeline_id, r.stage, r.attempt), r]));
      const runnerAttempts = attempts.filter((a) => RUNNER_STAGES.has(a.stage));
      const expected = new Set(runnerAttempts.map((a) => key(a.pipeline.id, a.stage, a.attempt)));
      for (const a of runnerAttempts) {
        const r = runs.get(key(a.pipeline.id, a.stage, a.attempt));
        if (!r) {
          if (a.status !== "CANCELLED")
            problems.push(
              `pipeline ${a.pipeline.id} ${a.stage} attempt ${a.attempt} (${a.status}): no stage_run`,
            );
        } else if (
          (a.status === "SUCCESS" || a.status === "FAILED") &&
          r.status !== a.status &&
          r.status === "RUNNING"
        ) {
          problems.push(
            `pipeline ${a.pipeline.id} ${a.stage} attempt ${a.attempt}: engine ${a.status}, stage_run still RUNNING`,
          );
        } else if (a.status === "SUCCESS" && r.status !== "SUCCESS") {
          problems.push(
            `pipeline ${a.pipeline.id} ${a.stage} attempt ${a.attempt}: engine SUCCESS, stage_run ${r.status}`,
          );
        }
      }
      for (const r of stageRuns)
        if (!expected.has(key(r.pipeline_id, r.stage, r.attempt)))
          problems.push(
            `stage_run ${r.pipeline_id} ${r.stage} attempt ${r.attempt}: no such attempt in the engine`,
          );
      const takenOver = stageRuns.filter((r) => r.runs > 1);
      const builds = new Map<string, number>();
      for (const b of opsBuilds) {
        const m = /^procode-package-(\d+)-(\d+)(?:-[0-9a-f]+)?$/.exec(b.idempotencyKey ?? "");
        if (!m) {
          problems.push(`build ${b.id} at the ops module: idempotency key ${b.idempotencyKey ?? "none"}`);
          continue;
        }
        const k = key(m[1]!, "PACKAGE", m[2]!);
        builds.set(k, (builds.get(k) ?? 0) + 1);
        if (!expected.has(k)) problems.push(`build ${b.id} for ${k}: no such PACKAGE attempt`);
      }
      for (const [k, n] of builds) if (n > 1) problems.push(`${k}: ${n} builds at the ops module`);
      checks.push(
        check(
          "dev-svc: one stage_run per attempt, one build per PACKAGE attempt",
          problems,
          `${stageRuns.length} stage_runs for ${runnerAttempts.length} attempts; ${takenOver.length} run again (runner died or its result could not be recorded); ${opsBuilds.length} builds`,
        ),
      );
    }

    // 6. ops: one deployment row per DEPLOY attempt, at most one deployment created at ops per attempt.
    {
      const problems: string[] = [];
      const rows = countBy(deployments, (d) => key(d.pipeline_id, d.attempt));
      const deployAttempts = attempts.filter((a) => a.stage === "DEPLOY");
      for (const a of deployAttempts) {
        const n = rows.get(key(a.pipeline.id, a.attempt)) ?? 0;
        if (n !== 1)
          problems.push(`pipeline ${a.pipeline.id} DEPLOY attempt ${a.attempt}: ${n} deployment rows`);
      }
      const byRequestKey = new Map(deployments.map((d) => [d.request_key, d]));
      const created = new Map<string, number>();
      for (const w of opsDeployments) {
        const d = w.idempotencyKey ? byRequestKey.get(w.idempotencyKey) : undefined;
        if (!d) {
          problems.push(
            `ops deployment ${w.id}: idempotency key ${w.idempotencyKey ?? "none"} matches no deployment`,
          );
          continue;
        }
        const k = key(d.pipeline_id, d.attempt);
        created.set(k, (created.get(k) ?? 0) + 1);
      }
      for (const [k, n] of created)
        if (n > 1) problems.push(`pipeline/attempt ${k}: ${n} deployments created at ops`);
      const repeated = opsDeployments.filter((w) => w.createCalls > 1).length;
      checks.push(
        check(
          "ops: at most one deployment created at ops per (pipeline, attempt)",
          problems,
          `${deployAttempts.length} DEPLOY attempts, ${deployments.length} deployment rows, ${opsDeployments.length} created at ops (${repeated} creates repeated and answered by key)`,
        ),
      );
    }

    // 7. Every deployment one outcome.
    {
      const problems: string[] = [];
      const events = new Map<string, Set<string>>();
      for (const e of finishedEvents) {
        const k = key(e.pipeline_id, e.attempt);
        events.set(k, (events.get(k) ?? new Set()).add(e.outcome));
      }
      const checkpoint = new Map(
        attempts.filter((a) => a.stage === "DEPLOY").map((a) => [key(a.pipeline.id, a.attempt), a]),
      );
      let ended = 0;
      for (const d of deployments) {
        const k = key(d.pipeline_id, d.attempt);
        const outcomes = events.get(k) ?? new Set<string>();
        if (d.applied > 1) problems.push(`deployment ${d.id} (${k}): ${d.applied} APPLIED observations`);
        if (!ENDED.has(d.status)) {
          if (d.status !== "SUPERSEDED") problems.push(`deployment ${d.id} (${k}): still ${d.status}`);
          else if (outcomes.size > 0)
            problems.push(`deployment ${d.id} (${k}): superseded, yet an outcome was published`);
          continue;
        }
        ended++;
        if (d.outcome === null) problems.push(`deployment ${d.id} (${k}): ${d.status} without an outcome`);
        const wantApplied = APPLIED_VIA.has(d.outcome_via ?? "") && d.deploy_id ? 1 : 0;
        if (d.applied !== wantApplied)
          problems.push(`deployment ${d.id} (${k}) via ${d.outcome_via}: ${d.applied} APPLIED observations`);
        if (outcomes.size !== 1 || !outcomes.has(d.outcome ?? ""))
          problems.push(
            `deployment ${d.id} (${k}) ${d.outcome}: events published with outcomes ${[...outcomes].join(", ") || "none"}`,
          );
        const c = checkpoint.get(k);
        const want = d.outcome === "SUCCESS" ? "SUCCESS" : d.outcome === "CANCELLED" ? "CANCELLED" : "FAILED";
        if (c && c.status !== want && !(c.status === "CANCELLED" && d.outcome === "CANCELLED"))
          problems.push(`deployment ${d.id} (${k}) ${d.outcome}: engine checkpoint ${c.status}`);
      }
      checks.push(
        check(
          "every deployment one outcome",
          problems,
          `${ended} deployments ended, ${deployments.filter((d) => d.applied === 1).length} with one APPLIED observation, ${finishedEvents.length} outcome events`,
        ),
      );
    }

    const status = (list: PipelineRow[]) =>
      [...countBy(list, (p) => p.status)].map(([s, n]) => `${s} ${n}`).join(", ");
    return {
      checks,
      figures: {
        "phase pipelines": `${phase.length} (${status(phase)})`,
        "iteration pipelines": `${iterationPipelines.length} (${status(iterationPipelines)})`,
        transitions: transitions.length,
      },
    };
  } finally {
    await db.end();
  }
}

import { stageOfState } from "./phase.machine.js";
import type { IterationPipelineRecord, PhasePipelineRecord, PipelineRecord } from "./pipeline.model.js";

/**
 * The rules that hold between a pipeline's fields after every command (docs/services/pipeline-engine.md,
 * "State fields"), in one place: the machine state decides the status, what the pipeline waits for
 * decides its timer, and the flags follow from both. The unit of work checks them before it writes,
 * so a command that would break one fails (and is retried) instead of storing a pipeline no later
 * command can reason about. Pure.
 */
export function invariantProblems(p: PipelineRecord): string[] {
  return p.type === "PHASE" ? phaseProblems(p) : iterationProblems(p);
}

const TIMED = new Set(["REQUESTED", "RETRY_WAIT", "QUEUED"]);

function phaseProblems(p: PhasePipelineRecord): string[] {
  const problems: string[] = [];
  const must = (ok: boolean, what: string) => {
    if (!ok)
      problems.push(`pipeline ${p.id} (${p.status} at ${p.state}, waiting for ${p.waitingFor}): ${what}`);
  };
  const state = p.state;
  const finished = { SUCCESS: "SUCCESS", FAILED: "FAILED", CANCELLED: "CANCELLED" } as const;
  switch (p.status) {
    case "PENDING":
      must(state === "PENDING", "a PENDING pipeline is in state PENDING");
      must(
        p.waitingFor === (p.queued ? "QUEUED" : null),
        "a PENDING pipeline waits for its lease only when queued",
      );
      break;
    case "RUNNING": {
      const stage = stageOfState(state);
      must(stage !== null, "a RUNNING pipeline is at a stage");
      must(p.currentStage === stage, `currentStage is the stage of its state (${stage})`);
      must(
        p.waitingFor === "REQUESTED" || p.waitingFor === "RETRY_WAIT" || p.waitingFor === "AWAIT_PROCEED",
        "a RUNNING pipeline waits for a result, a retry or a person",
      );
      must(!p.queued, "a RUNNING pipeline is not queued");
      const running = p.checkpoints.filter((c) => c.status === "RUNNING");
      if (p.waitingFor === "REQUESTED") {
        must(
          running.length === 1 && running[0]!.stage === stage && running[0]!.attempt === p.attempt,
          "a requested attempt is the one RUNNING checkpoint",
        );
      } else {
        must(running.length === 0, "no attempt runs while it waits for a retry or a person");
      }
      break;
    }
    default:
      must(state === finished[p.status], `a ${p.status} pipeline is in state ${finished[p.status]}`);
      must(p.waitingFor === null, "a finished pipeline waits for nothing");
      must(!p.queued, "a finished pipeline is not queued");
      must(
        p.checkpoints.every((c) => c.status !== "RUNNING"),
        "a finished pipeline has no RUNNING checkpoint",
      );
  }
  must((p.failedStage !== null) === (p.status === "FAILED"), "failedStage is set exactly when FAILED");
  must(!p.rejected || p.status === "CANCELLED", "a rejected pipeline is CANCELLED");
  must(
    (p.wakeAt !== null) === (p.waitingFor !== null && TIMED.has(p.waitingFor)),
    "a timer is set exactly while it waits for a result, a retry or its lease",
  );
  return problems;
}

function iterationProblems(p: IterationPipelineRecord): string[] {
  const problems: string[] = [];
  const must = (ok: boolean, what: string) => {
    if (!ok) problems.push(`iteration pipeline ${p.id} (${p.status} at ${p.state}): ${what}`);
  };
  if (p.state === "RELEASED") must(p.status === "SUCCESS", "a RELEASED iteration's pipeline is SUCCESS");
  if (p.state === "CANCELLED")
    must(p.status === "CANCELLED", "a cancelled iteration's pipeline is CANCELLED");
  return problems;
}

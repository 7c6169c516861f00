import {
  DEFAULT_ITERATION_PHASES,
  type Actor,
  type Iteration,
  type IterationPhase,
} from "@procode/contracts";
import { DomainError, type Sql } from "@procode/service-kit";
import { findApp } from "../store/app-projection.repository.js";
import { findIteration, type IterationRecord } from "../store/iteration.repository.js";

/**
 * The caller's iteration, or 404 (2004): another team's iteration answers exactly like one that does
 * not exist.
 */
export async function requireTeamIteration(sql: Sql, actor: Actor, id: number): Promise<IterationRecord> {
  const it = await findIteration(sql, id);
  if (!it || it.team !== actor.team)
    throw new DomainError("ITERATION_NOT_FOUND", `iteration ${id} not found`);
  return it;
}

/** The phases the iteration's app uses (from the app's pro-code settings; the seed's four by default). */
export async function phasesOfApp(sql: Sql, appId: number): Promise<IterationPhase[]> {
  const app = await findApp(sql, appId);
  return app?.procode?.phases ?? DEFAULT_ITERATION_PHASES;
}

/** An iteration as the API shows it (contract `Iteration`). */
export function toIteration(r: IterationRecord): Iteration {
  return {
    id: r.id,
    appId: r.appId,
    name: r.name,
    status: r.status,
    sourceBranch: r.sourceBranch,
    currentPhase: r.currentPhase,
    headCommit: r.headCommit,
    iterationPipelineId: r.iterationPipelineId,
    phasePipelineId: r.phasePipelineId,
    phases: r.phases,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

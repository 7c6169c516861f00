import {
  IterationPhases,
  type IterationPhase,
  type ListPipelinesQuery,
  type Page,
  type Pipeline,
} from "@procode/contracts";
import { DomainError } from "@procode/service-kit";
import type { PipelineRecord } from "../domain/pipeline.model.js";
import { awaitingOf } from "../http/awaiting.js";
import { readAppSettings } from "../store/app-settings.repository.js";
import type { PipelineRepository, ReadPool } from "../store/pipeline.repository.js";

/** The answer of GET /pipelines/{id} and the extras a caller needs to act on a pipeline. */
export function toPipelineView(p: PipelineRecord, phases?: readonly IterationPhase[]): Pipeline {
  const isIteration = p.type === "ITERATION";
  // A release's own fields; an iteration pipeline shows them empty.
  const phase = p.type === "PHASE" ? p : null;
  return {
    id: p.id,
    type: p.type,
    parentId: p.parentId,
    refId: p.refId,
    status: p.status,
    currentStage: isIteration && p.state === "RELEASED" ? "RELEASE" : p.currentStage,
    deployStatus: phase?.deployStatus ?? null,
    checkpoints: p.checkpoints,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    state: p.state,
    appId: p.appId,
    iterationId: p.iterationId,
    deployId: phase?.deployId ?? null,
    currentRetries: phase?.currentRetries ?? 0,
    stageConfigs: p.stageConfigs,
    tag: phase?.tag ?? null,
    rollback: phase?.rollback ?? false,
    awaiting: awaitingOf(p, phases),
    queued: phase?.queued ?? false,
  };
}

/** Reads for the REST API, always within the caller's team (another team's pipeline is a 404). */
export class PipelineQueries {
  constructor(
    private readonly db: ReadPool,
    private readonly repo: PipelineRepository,
  ) {}

  async get(id: number, team: string): Promise<Pipeline> {
    const found = await this.repo.findForTeam(this.db, id, team);
    if (!found) throw new DomainError("PIPELINE_NOT_FOUND", `pipeline ${id} not found`);
    const { pipeline, appPhases } = found;
    return toPipelineView(pipeline, appPhases ? IterationPhases.parse(appPhases) : undefined);
  }

  async list(q: ListPipelinesQuery, team: string): Promise<Page<Pipeline>> {
    const { items, total } = await this.repo.list(this.db, q, team);
    const phases = await this.phasesOf(items);
    return {
      items: items.map((p) => toPipelineView(p, phases.get(p.appId))),
      total,
      page: q.page,
      pageSize: q.pageSize,
    };
  }

  /** The phases of the apps of iteration pipelines: their next phase is what `awaiting` names. */
  private async phasesOf(items: readonly PipelineRecord[]): Promise<Map<number, IterationPhase[]>> {
    const appIds = [...new Set(items.filter((p) => p.type === "ITERATION").map((p) => p.appId))];
    const settings = await readAppSettings(this.db, appIds);
    const phases = new Map<number, IterationPhase[]>();
    for (const [appId, s] of settings) if (s.phases) phases.set(appId, s.phases);
    return phases;
  }
}

import type { ListPipelinesQuery, Page, Pipeline } from "@procode/contracts";
import { DomainError } from "@procode/service-kit";
import type { PipelineRecord } from "../domain/pipeline.model.js";
import { awaitingOf } from "../domain/pipeline.policy.js";
import type { PipelineRepository, ReadPool } from "../store/pipeline.repository.js";

/** Seed 3.5 shape and the extras a caller needs to act on a pipeline. */
export function toPipelineView(p: PipelineRecord): Pipeline {
  const isIteration = p.type === "ITERATION";
  return {
    id: p.id,
    type: p.type,
    parentId: p.parentId,
    refId: p.refId,
    status: p.status,
    currentStage: isIteration && p.state === "RELEASED" ? "RELEASE" : p.currentStage,
    deployStatus: isIteration ? null : p.deployStatus,
    checkpoints: p.checkpoints,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    state: p.state,
    appId: p.appId,
    iterationId: p.iterationId,
    deployId: isIteration ? null : p.deployId,
    currentRetries: p.currentRetries,
    stageConfigs: p.stageConfigs,
    tag: p.tag,
    rollback: p.rollback,
    awaiting: awaitingOf(p),
    queued: p.queued,
  };
}

/** Reads for the REST API, always within the caller's team (another team's pipeline is a 404). */
export class PipelineQueries {
  constructor(
    private readonly db: ReadPool,
    private readonly repo: PipelineRepository,
  ) {}

  async get(id: number, team: string): Promise<Pipeline> {
    const p = await this.repo.findForTeam(this.db, id, team);
    if (!p) throw new DomainError("PIPELINE_NOT_FOUND", `pipeline ${id} not found`);
    return toPipelineView(p);
  }

  async list(q: ListPipelinesQuery, team: string): Promise<Page<Pipeline>> {
    const { items, total } = await this.repo.list(this.db, q, team);
    return { items: items.map(toPipelineView), total, page: q.page, pageSize: q.pageSize };
  }
}

import {
  PHASE_STAGE_ORDER,
  RPC,
  ReadStageLogsReply,
  ReadStageLogsRequest,
  type PhaseStage,
  type PipelineLogsQuery,
  type RpcName,
  type StageLogLine,
  type StageLogs,
} from "@procode/contracts";
import { callRpc, DomainError, type NatsHandle } from "@procode/service-kit";
import type { PipelineRepository, ReadPool } from "../store/pipeline.repository.js";

/** Who keeps the log of which stages (the service that runs them), and how to ask it. */
const OWNERS: { rpc: RpcName; peer: string; stages: readonly PhaseStage[] }[] = [
  {
    rpc: RPC.READ_DEV_STAGE_LOGS,
    peer: "dev-svc",
    stages: ["CODE_CHECK", "BUILD", "PACKAGE", "QUALITY_GATE"],
  },
  { rpc: RPC.READ_OPS_STAGE_LOGS, peer: "ops-gateway", stages: ["DEPLOY"] },
];

/** Pages asked of one owner at most (a page is up to 256 KiB of text; an attempt keeps 1 MiB). */
const MAX_PAGES = 200;

/**
 * `GET /pipelines/{id}/logs` (docs/architecture.md "Stage logs"): the engine knows the pipeline's
 * team, so it answers 404 for another team's pipeline like every pipeline route, then asks the
 * services that ran the stages for their lines (request/reply, bounded by RPC_TIMEOUT_MS per page;
 * an owner that does not answer is 503) and merges them in stage order.
 */
export class StageLogReader {
  constructor(
    private readonly db: ReadPool,
    private readonly repo: PipelineRepository,
    private readonly nats: NatsHandle,
    private readonly timeoutMs: number,
  ) {}

  async read(id: number, team: string, q: PipelineLogsQuery, correlationId: string): Promise<StageLogs> {
    const p = (await this.repo.findForTeam(this.db, id, team))?.pipeline;
    if (!p) throw new DomainError("PIPELINE_NOT_FOUND", `pipeline ${id} not found`);
    if (p.type === "ITERATION") return { pipelineId: id, lines: [], truncated: false };
    const owners = OWNERS.filter((o) => !q.stage || o.stages.includes(q.stage));
    const parts = await Promise.all(
      owners.map((o) =>
        this.readAll(
          o.rpc,
          o.peer,
          {
            pipelineId: id,
            team: p.team,
            ...(q.stage ? { stage: q.stage } : {}),
            ...(q.attempt !== undefined ? { attempt: q.attempt } : {}),
          },
          correlationId,
        ),
      ),
    );
    const rank = (l: StageLogLine) => PHASE_STAGE_ORDER.indexOf(l.stage);
    const lines = parts
      .flatMap((x) => x.lines)
      .sort((a, b) => rank(a) - rank(b) || a.attempt - b.attempt || a.seq - b.seq);
    return { pipelineId: id, lines, truncated: parts.some((x) => x.truncated) };
  }

  private async readAll(
    rpc: RpcName,
    peer: string,
    request: ReadStageLogsRequest,
    correlationId: string,
  ): Promise<{ lines: StageLogLine[]; truncated: boolean }> {
    const lines: StageLogLine[] = [];
    let truncated = false;
    let after = request.after;
    for (let page = 0; page < MAX_PAGES; page++) {
      const reply = await callRpc(
        this.nats,
        rpc,
        ReadStageLogsRequest,
        ReadStageLogsReply,
        { ...request, ...(after ? { after } : {}) },
        { correlationId, timeoutMs: this.timeoutMs, peer },
      );
      lines.push(...reply.lines);
      truncated ||= reply.truncated;
      if (!reply.next) break;
      after = reply.next;
    }
    return { lines, truncated };
  }
}

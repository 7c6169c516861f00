import {
  decodeIterationCursor,
  encodeIterationCursor,
  IterationCreated,
  ProceedIterationReply,
  ProceedIterationRequest,
  RPC,
  TargetPhase,
  type Actor,
  type CreateIterationRequest,
  type Iteration,
  type ListIterationsQuery,
  type IterationPage,
  type ProceedIterationBody,
  type ProceedIterationResponse,
} from "@procode/contracts";
import {
  callRpc,
  DomainError,
  errorMessage,
  invalidParameter,
  type Logger,
  type NatsHandle,
  type Database,
  type Outbox,
  type RecordAnswer,
  type Sql,
} from "@procode/service-kit";
import { GitProviderError } from "../integrations/git/errors.js";
import { findIteration, insertIteration, listIterations } from "../store/iteration.repository.js";
import { getCachedRefs } from "../store/ref-cache.repository.js";
import { requireTeamApp } from "../git/app-access.js";
import { phasesOfApp, requireTeamIteration, toIteration } from "./iteration-access.js";
import type { IterationProgress } from "./iteration-progress.service.js";
import { proceedRefusal } from "../domain/iteration.policy.js";
import type { ReleaseService } from "./release.service.js";
import type { RepositoryAccess } from "../git/repository-access.js";
import { emitIterationChanged } from "./iteration-live.js";

/** What `proceed` answers: 202 when a release was recorded but the engine has not answered yet. */
export interface ProceedOutcome {
  httpStatus: 200 | 202;
  message: string;
  data: ProceedIterationResponse;
}

/** A message for a release the engine has not answered yet (202, code 0). */
export const pendingReleaseMessage = (tag: string, iterationPhaseId: number) =>
  `release ${tag} recorded (iteration phase ${iterationPhaseId}); its pipeline starts when pipeline-engine answers`;

/**
 * Iterations: creation (the row and `dev.iteration_created` in one transaction; the
 * engine creates and starts the iteration pipeline), reads (team-isolated) and moves to the next
 * phase through pipeline-engine's PROCEED_ITERATION.
 */
export class IterationService {
  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly nats: NatsHandle,
    private readonly access: RepositoryAccess,
    private readonly progress: IterationProgress,
    private readonly releases: ReleaseService,
    private readonly log: Logger,
    private readonly opts: { rpcTimeoutMs: number },
  ) {}

  /** `record` stores the answer in the iteration's transaction (an Idempotency-Key's first answer). */
  async create(
    actor: Actor,
    body: CreateIterationRequest,
    correlationId: string,
    record: RecordAnswer = async () => {},
  ): Promise<Iteration> {
    const sql = this.db.sql;
    const app = await requireTeamApp(sql, actor, body.appId);
    if (app.devMode !== "pro-code" || !app.procode) {
      throw invalidParameter(
        "appId",
        `app ${app.appId} is a ${app.devMode} app; iterations need a pro-code app with a repository`,
      );
    }
    const headCommit = await this.resolveSourceBranch(sql, app.appId, body.sourceBranch);
    const created = await this.outbox.sqlTransaction(correlationId, async (tx) => {
      const iterationId = await insertIteration(tx.sql, {
        appId: app.appId,
        team: app.team,
        name: body.name,
        sourceBranch: body.sourceBranch,
        headCommit,
        createdBy: actor.sub,
      });
      tx.emit(IterationCreated, {
        iterationId,
        appId: app.appId,
        team: app.team,
        name: body.name,
        sourceBranch: body.sourceBranch,
        actor,
      });
      await emitIterationChanged(tx, iterationId);
      const view = toIteration((await findIteration(tx.sql, iterationId))!);
      await record(tx.sql, view);
      return view;
    });
    this.log.info({ correlationId, iterationId: created.id, appId: app.appId }, "iteration created");
    return created;
  }

  /**
   * The head commit of the source branch, from the provider; when the provider is down, from the
   * last branch list fetched. A branch that is not there is 1001 naming sourceBranch; a
   * provider down with nothing cached is 503 (1006).
   */
  private async resolveSourceBranch(sql: Sql, appId: number, branch: string): Promise<string> {
    const missing = (how: string) =>
      invalidParameter("sourceBranch", `branch "${branch}" does not exist in the app's repository${how}`);
    const { provider } = await this.access.forApp(appId, { strict: true, sql });
    try {
      return await provider.resolveRef(`refs/heads/${branch}`);
    } catch (err) {
      if (!(err instanceof GitProviderError)) throw err;
      if (err.failure === "ref_not_found") throw missing("");
      if (err.failure !== "unavailable" && err.failure !== "timeout") throw err;
      const cached = await getCachedRefs(sql, appId, "branches");
      if (!cached) {
        throw new DomainError(
          "GIT_PROVIDER_UNAVAILABLE",
          `${err.message}; no cached branch list for this app to check sourceBranch against`,
        );
      }
      const found = cached.items.find((b) => b.name === branch);
      this.log.warn(
        { appId, branch, found: Boolean(found), err: errorMessage(err) },
        "provider down; source branch checked against the cached branch list",
      );
      if (!found) throw missing(` (branch list as of ${cached.fetchedAt}; the provider is unavailable)`);
      return found.commitId;
    }
  }

  async get(actor: Actor, id: number): Promise<Iteration> {
    return toIteration(await requireTeamIteration(this.db.sql, actor, id));
  }

  async list(actor: Actor, appId: number, q: ListIterationsQuery): Promise<IterationPage> {
    const before = q.cursor === undefined ? null : decodeIterationCursor(q.cursor);
    // The query schema refused a cursor that does not decode; this is the same rule, kept in one place.
    if (q.cursor !== undefined && before === null)
      throw invalidParameter("cursor", "is not a cursor this list answered");
    const { appTeam, items, total, more } = await listIterations(this.db.sql, appId, {
      status: q.status,
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
      before: before ?? undefined,
    });
    // An app of another team answers exactly like one that does not exist.
    if (appTeam !== actor.team) throw new DomainError("APP_NOT_FOUND", `app ${appId} not found`);
    const last = items.at(-1);
    return {
      items: items.map(toIteration),
      total,
      page: q.page,
      pageSize: q.pageSize,
      nextCursor: more && last ? encodeIterationCursor(last.id) : null,
    };
  }

  /**
   * RELEASE with a tag is exactly a release; any other target is asked of the engine,
   * which answers the iteration's new phase (or 2001/2002 with its reason). No answer: 503, and
   * nothing changed.
   */
  async proceed(
    actor: Actor,
    id: number,
    body: ProceedIterationBody,
    correlationId: string,
  ): Promise<ProceedOutcome> {
    const sql = this.db.sql;
    const it = await requireTeamIteration(sql, actor, id);
    const refusal = proceedRefusal({
      iterationId: it.id,
      phase: it.currentPhase,
      phases: await phasesOfApp(sql, it.appId),
      targetPhase: body.targetPhase,
      hasTag: body.tag !== undefined,
    });
    if (refusal) throw new DomainError(refusal.kind, refusal.message);

    if (body.tag !== undefined && body.targetPhase === "RELEASE") {
      const r = await this.releases.release(actor, it.id, body.tag, correlationId);
      return {
        httpStatus: r.answered ? 200 : 202,
        message: r.answered ? "success" : pendingReleaseMessage(r.response.tag, r.response.iterationPhaseId),
        data: {
          iterationId: it.id,
          currentPhase: r.currentPhase ?? "PENDING",
          phasePipelineId: r.response.pipelineId,
        },
      };
    }

    const reply = await callRpc(
      this.nats,
      RPC.PROCEED_ITERATION,
      ProceedIterationRequest,
      ProceedIterationReply,
      // A phase after the checks above (they refuse any other text).
      { iterationId: it.id, appId: it.appId, targetPhase: TargetPhase.parse(body.targetPhase), actor },
      { correlationId, timeoutMs: this.opts.rpcTimeoutMs, peer: "pipeline-engine" },
    );
    await this.progress.applyAnswer(it.id, reply, correlationId);
    this.log.info(
      { correlationId, iterationId: it.id, currentPhase: reply.currentPhase },
      "iteration proceeded",
    );
    return {
      httpStatus: 200,
      message: "success",
      data: { iterationId: it.id, currentPhase: reply.currentPhase, phasePipelineId: reply.phasePipelineId },
    };
  }
}

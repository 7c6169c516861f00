import { randomUUID } from "node:crypto";
import {
  ProceedIterationReply,
  ProceedIterationRequest,
  RPC,
  type Actor,
  type IterationMachineState,
  type ProceedIterationRequest as ProceedRequest,
  type ReleaseResponse,
} from "@procode/contracts";
import {
  callRpc,
  DomainError,
  errorMessage,
  isDomainError,
  PollLoop,
  type Logger,
  type NatsHandle,
  type Database,
  type Outbox,
} from "@procode/service-kit";
import { GitProviderError } from "../integrations/git/errors.js";
import type { GitProvider } from "../integrations/git/provider.js";
import {
  applyPipelineAnswer,
  insertRelease,
  phasesOf,
  recordRefusal,
  releasesOfTag,
  unansweredReleases,
  type IterationPhaseRow,
} from "../store/iteration-phase.repository.js";
import { freeReleaseLock, setHeadCommit, takeReleaseLock } from "../store/iteration.repository.js";
import { phasesOfApp, requireTeamIteration } from "./iteration-access.js";
import type { IterationProgress } from "./iteration-progress.service.js";
import { isRollback, latestRelease, releaseRefusal, repeatedRelease } from "../domain/iteration.policy.js";
import type { RepositoryAccess } from "../git/repository-access.js";
import { emitIterationChanged } from "./iteration-live.js";

export interface ReleaseOptions {
  /** How long PROCEED_ITERATION may take before the release is answered as recorded (202). */
  rpcTimeoutMs: number;
  /** How long a release may hold its iteration's lock (provider calls and the request, with margin). */
  lockMs: number;
  /** How often the release asker looks for releases the engine has not answered (RELEASE_ASK_MS). */
  askMs: number;
}

/** What a release request did. `answered`: the engine answered (else it starts when the engine is back). */
export interface ReleaseOutcome {
  answered: boolean;
  response: ReleaseResponse;
  /** The iteration's phase after the release, as the engine answered it (or as dev-svc knows it). */
  currentPhase: IterationMachineState | null;
}

const PEER = "pipeline-engine";

/**
 * `POST /iterations/{id}/release`, and `proceed` to RELEASE with a tag: (1) the iteration's rules,
 * checked with what dev-svc knows; (2) the tag on the head of the source branch through the provider
 * (idempotent; 30 s, 3 retries), or for a rollback the commit of the older tag; (3) the
 * iteration_phase row; (4) PROCEED_ITERATION, whose answer names the phase pipeline. A release
 * travels one road, the request (docs/architecture.md, "Release by tag"): when the engine does not
 * answer, the recorded row is the durable part, and the release asker asks again until the engine
 * answers or refuses (idempotent per iteration_phase), so no release is lost and the tag is never
 * created twice.
 */
export class ReleaseService {
  private readonly asker: PollLoop;

  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly nats: NatsHandle,
    private readonly access: RepositoryAccess,
    private readonly progress: IterationProgress,
    private readonly log: Logger,
    private readonly opts: ReleaseOptions,
  ) {
    this.asker = new PollLoop({
      name: "release asker",
      intervalMs: opts.askMs,
      tick: () => this.askUnanswered(),
      log,
    });
  }

  start(): void {
    this.asker.start();
  }

  stop(): Promise<void> {
    return this.asker.stop();
  }

  /**
   * One pass of the release asker: PROCEED_ITERATION again for releases recorded a while ago that
   * the engine has not answered. A refusal is recorded (by `ask`); a pass stops at the first request
   * the engine does not answer (it is still away). True when a full batch was answered: more may wait.
   */
  private async askUnanswered(): Promise<boolean> {
    const batch = 20;
    // Older than one request's timeout: the request that recorded a row has had its chance first.
    const rows = await unansweredReleases(this.db.sql, this.opts.rpcTimeoutMs, batch);
    for (const row of rows) {
      const actor = { sub: row.createdBy, team: row.team };
      const correlationId = `release-ask-${row.id}-${randomUUID()}`;
      const outcome = await this.ask(actor, row.appId, row, null, correlationId).catch((err: unknown) => {
        if (isDomainError(err)) return null; // refused, and recorded as such
        throw err;
      });
      if (outcome && !outcome.answered) return false;
    }
    return rows.length === batch;
  }

  async release(
    actor: Actor,
    iterationId: number,
    tag: string,
    correlationId: string,
  ): Promise<ReleaseOutcome> {
    const sql = this.db.sql;
    const it = await requireTeamIteration(sql, actor, iterationId);
    const releasesOf = async () => (await phasesOf(sql, it.id)).filter((r) => r.phaseType === "RELEASE");
    let own = await releasesOf();

    const repeated = repeatedRelease(own, tag);
    if (repeated) return this.repeat(actor, it.appId, repeated, it.currentPhase, correlationId);

    // A release recorded while the engine did not answer, and not answered since: asked now, as the
    // release asker would, so that a release the engine refuses does not block this one.
    const unanswered = latestRelease(own);
    if (unanswered?.status === "PENDING" && unanswered.pipelineId === null) {
      await this.ask(actor, it.appId, unanswered, it.currentPhase, correlationId).catch((err: unknown) => {
        if (!isDomainError(err)) throw err;
      });
      own = await releasesOf();
    }

    const appReleases = await releasesOfTag(sql, it.appId, tag);
    const rollback = isRollback(it.currentPhase, it.id, appReleases);
    const refusal = releaseRefusal({
      iterationId: it.id,
      phase: it.currentPhase,
      phases: await phasesOfApp(sql, it.appId),
      latest: latestRelease(own),
      rollback,
    });
    if (refusal) throw new DomainError(refusal.kind, refusal.message);

    const lockId = randomUUID();
    if (!(await takeReleaseLock(sql, it.id, lockId, this.opts.lockMs))) {
      throw new DomainError(
        "PHASE_CANNOT_PROCEED",
        `another release request of iteration ${it.id} is being handled; retry in a moment`,
      );
    }
    try {
      const { provider } = await this.access.forApp(it.appId, { strict: true, sql });
      const target = rollback
        ? { commitId: await this.commitOfTag(provider, tag), head: null }
        : await this.tagHead(provider, it.sourceBranch, tag, own);
      const log = this.log.child({ correlationId, iterationId: it.id, tag });
      const row = await this.outbox.sqlTransaction(correlationId, async (tx) => {
        const r = await insertRelease(tx.sql, {
          iterationId: it.id,
          appId: it.appId,
          branch: it.sourceBranch,
          tag,
          commitId: target.commitId,
          rollback,
          createdBy: actor.sub,
        });
        if (target.head) await setHeadCommit(tx.sql, it.id, target.head);
        await emitIterationChanged(tx, it.id);
        return r;
      });
      log.info({ iterationPhaseId: row.id, commitId: target.commitId, rollback }, "release recorded");
      return await this.ask(actor, it.appId, row, it.currentPhase, correlationId);
    } finally {
      await freeReleaseLock(this.db.sql, it.id, lockId).catch((err) =>
        this.log.warn({ err: errorMessage(err), iterationId: it.id }, "could not free the release lock"),
      );
    }
  }

  /**
   * The head of the source branch, tagged. The same tag on that commit is success; on another commit
   * it is 2003, unless this iteration tried to release that tag before (a failed or refused attempt):
   * then it is released again at the commit the tag names.
   */
  private async tagHead(
    provider: GitProvider,
    branch: string,
    tag: string,
    own: readonly IterationPhaseRow[],
  ): Promise<{ commitId: string; head: string }> {
    let head: string;
    try {
      head = await provider.resolveRef(`refs/heads/${branch}`);
    } catch (err) {
      if (err instanceof GitProviderError && err.failure === "ref_not_found") {
        throw new DomainError(
          "PRECONDITION_FAILED",
          `sourceBranch: branch ${branch} no longer exists in the repository`,
        );
      }
      throw err;
    }
    try {
      const created = await provider.createTag(tag, head);
      return { commitId: created.commitId, head };
    } catch (err) {
      if (!(err instanceof GitProviderError) || err.failure !== "tag_exists_elsewhere") throw err;
      const existing = (err.data as { commitId?: string } | null)?.commitId;
      if (existing && own.some((r) => r.tag === tag)) return { commitId: existing, head };
      throw new DomainError(
        "PRECONDITION_FAILED",
        `tag: ${tag} already exists on commit ${existing?.slice(0, 12) ?? "another commit"}, not on the head ${head.slice(0, 12)} of branch ${branch}; choose another tag`,
      );
    }
  }

  private async commitOfTag(provider: GitProvider, tag: string): Promise<string> {
    try {
      return await provider.resolveRef(`refs/tags/${tag}`);
    } catch (err) {
      if (err instanceof GitProviderError && err.failure === "ref_not_found") {
        throw new DomainError("PRECONDITION_FAILED", `tag: ${tag} no longer exists in the repository`);
      }
      throw err;
    }
  }

  /** A release asked for again: the same row; the engine is asked again while it has no pipeline. */
  private async repeat(
    actor: Actor,
    appId: number,
    row: IterationPhaseRow,
    phase: IterationMachineState | null,
    correlationId: string,
  ): Promise<ReleaseOutcome> {
    if (row.pipelineId === null) return this.ask(actor, appId, row, phase, correlationId);
    return { answered: true, response: responseOf(row, row.pipelineId, row.status), currentPhase: phase };
  }

  /** PROCEED_ITERATION for a recorded release. */
  private async ask(
    actor: Actor,
    appId: number,
    row: IterationPhaseRow,
    phase: IterationMachineState | null,
    correlationId: string,
  ): Promise<ReleaseOutcome> {
    const request: ProceedRequest = {
      iterationId: row.iterationId,
      appId,
      targetPhase: "RELEASE",
      release: {
        iterationPhaseId: row.id,
        tag: row.tag ?? "",
        branch: row.branch ?? "",
        commitId: row.commitId,
        rollback: row.rollback,
      },
      actor,
    };
    let reply: ProceedIterationReply;
    try {
      reply = await callRpc(
        this.nats,
        RPC.PROCEED_ITERATION,
        ProceedIterationRequest,
        ProceedIterationReply,
        request,
        {
          correlationId,
          timeoutMs: this.opts.rpcTimeoutMs,
          peer: PEER,
        },
      );
    } catch (err) {
      if (!isDomainError(err)) throw err;
      if (err.kind === "DEPENDENCY_UNAVAILABLE" || err.code >= 9000) {
        // Recorded: the release asker asks again until the engine answers.
        this.log.warn(
          { correlationId, iterationPhaseId: row.id, reason: err.message },
          "pipeline-engine did not answer; the release starts when it is back",
        );
        return { answered: false, response: responseOf(row, null, "PENDING"), currentPhase: phase };
      }
      await recordRefusal(this.db.sql, row.id, "CANCELLED", `${err.code}: ${err.message}`);
      throw err;
    }
    const pipelineId = reply.phasePipelineId;
    if (pipelineId !== null) {
      await applyPipelineAnswer(this.db.sql, row.id, pipelineId, reply.phasePipelineStatus);
    }
    await this.progress.applyAnswer(row.iterationId, reply, correlationId);
    return {
      answered: true,
      response: responseOf(row, pipelineId, reply.phasePipelineStatus ?? "PENDING"),
      currentPhase: reply.currentPhase,
    };
  }
}

function responseOf(
  row: IterationPhaseRow,
  pipelineId: number | null,
  status: ReleaseResponse["status"],
): ReleaseResponse {
  return {
    iterationId: row.iterationId,
    tag: row.tag ?? "",
    pipelineId,
    status,
    iterationPhaseId: row.id,
    commitId: row.commitId,
    rollback: row.rollback,
  };
}

import { randomUUID } from "node:crypto";
import { Counter } from "prom-client";
import {
  errorMessage,
  PollLoop,
  Semaphore,
  type Database,
  type Logger,
  type Metrics,
  type Outbox,
} from "@procode/service-kit";
import { bindRetryDelayMs, needsCredential } from "../domain/binding.js";
import { GitProviderError } from "../integrations/git/errors.js";
import type { GitProvider, RepoInfo } from "../integrations/git/provider.js";
import {
  claimDueRepos,
  clearInstalledWebhook,
  recordBindOutcome,
  type BindOutcome,
  type GitRepoRecord,
} from "../store/git-repo.repository.js";
import { CredentialProblemError, type RepositoryAccess } from "./repository-access.js";
import { emitRepositoryChanged } from "./repository-live.js";
import { openFailure, type Secrets } from "./secrets.js";

export interface BinderOptions {
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a claimed binding is ours before another replica may take it (covers the provider calls). */
  leaseMs: number;
  concurrency?: number;
}

/**
 * Work that is part of a binding (the scaffold push): runs once the webhook is installed, before the
 * binding is recorded BOUND. A failure fails the attempt, which is retried like any other failed
 * binding; what it changed in the repository (no longer empty) is returned.
 */
export type BindStep = (ctx: {
  repo: GitRepoRecord;
  provider: GitProvider;
  info: RepoInfo;
  log: Logger;
}) => Promise<Partial<Pick<RepoInfo, "defaultBranch" | "isEmpty">> | void>;

/**
 * Installs each app's webhook in its provider and keeps trying in the background when it
 * cannot: the state lives in git_repo (PENDING, BOUND, NEEDS_CREDENTIAL, ERROR with the last error
 * and the next attempt), and a loop takes the rows that are due, so a restart loses nothing.
 */
export class RepoBinder {
  private readonly loop: PollLoop;
  private readonly steps: BindStep[] = [];
  private readonly attempts: Counter<"outcome">;
  private readonly sem: Semaphore;

  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly access: RepositoryAccess,
    private readonly secrets: Secrets,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly opts: BinderOptions,
  ) {
    this.loop = new PollLoop({
      name: "repository binder",
      intervalMs: opts.pollMs,
      tick: () => this.tick(),
      log,
    });
    this.sem = new Semaphore(opts.concurrency ?? 4);
    this.attempts = new Counter({
      name: "repo_binding_attempts_total",
      help: "Repository binding attempts by outcome (BOUND, NEEDS_CREDENTIAL, ERROR)",
      labelNames: ["outcome"],
      registers: [metrics.registry],
    });
  }

  /** Adds work to every binding attempt (see BindStep). */
  addBindStep(step: BindStep): void {
    this.steps.push(step);
  }

  start(): void {
    this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: binds what is due. True when there may be more. */
  async tick(): Promise<boolean> {
    const due = await claimDueRepos(this.db.sql, 10, this.opts.leaseMs);
    await Promise.all(
      due.map(async (repo) => {
        await this.sem.acquire();
        try {
          await this.bindOne(repo);
        } finally {
          this.sem.release();
        }
      }),
    );
    return due.length === 10;
  }

  private async bindOne(repo: GitRepoRecord): Promise<void> {
    const log = this.log.child({ appId: repo.appId, gitType: repo.gitType });
    let outcome: BindOutcome;
    try {
      outcome = await this.bind(repo, log);
    } catch (err) {
      outcome = this.failure(repo, err);
    }
    this.attempts.labels(outcome.state).inc();
    // The outcome and its live event commit together (docs/api.md, "Live events").
    const recorded = await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
      if (!(await recordBindOutcome(tx.sql, repo.appId, repo.generation, outcome))) return false;
      await emitRepositoryChanged(tx, repo.appId);
      return true;
    });
    if (!recorded) {
      log.debug("binding changed while binding; the newer one is due");
      return;
    }
    if (outcome.state === "BOUND") {
      log.info({ webhookId: outcome.webhook?.id }, "repository bound, webhook installed");
    } else if (outcome.state === "NEEDS_CREDENTIAL") {
      log.warn({ reason: outcome.lastError }, "repository binding needs a credential");
    } else {
      log.warn(
        { reason: outcome.lastError, retryInMs: outcome.retryInMs, attempt: outcome.attempts },
        "repository binding failed; will retry",
      );
    }
  }

  private async bind(repo: GitRepoRecord, log: Logger): Promise<BindOutcome> {
    if (!repo.webhookUrl || !repo.webhookSecret) {
      throw new Error("the app's configuration carries no webhook URL or secret");
    }
    let secret: string;
    try {
      secret = this.secrets.openWebhookSecret(repo.webhookSecret);
    } catch {
      throw new Error(
        `the webhook secret cannot be opened: ${openFailure(repo.webhookSecret, this.secrets.keyRing)}`,
      );
    }
    const provider = await this.access.providerFor(repo, { strict: true });
    let info = await provider.probe();
    const hook = await provider.createWebhook({ url: repo.webhookUrl, secret });
    await this.removeOldWebhook(repo, hook.id, provider, log);
    for (const step of this.steps) info = { ...info, ...(await step({ repo, provider, info, log })) };
    return {
      state: "BOUND",
      lastError: null,
      retryInMs: null,
      attempts: 0,
      webhook: {
        id: hook.id,
        repoUrl: repo.externalGitUrl,
        gitType: repo.gitType,
        credentialId: repo.credentialId,
      },
      defaultBranch: info.defaultBranch,
      isEmpty: info.isEmpty,
    };
  }

  /** The hook installed for an earlier binding (other repository, other URL) is removed, best effort. */
  private async removeOldWebhook(
    repo: GitRepoRecord,
    newId: string,
    provider: GitProvider,
    log: Logger,
  ): Promise<void> {
    if (!repo.webhookId) return;
    const sameRepo = repo.webhookRepoUrl === repo.externalGitUrl && repo.webhookGitType === repo.gitType;
    if (sameRepo && repo.webhookId === newId) return;
    try {
      const old = sameRepo
        ? provider
        : await this.access.providerFor({
            team: repo.team,
            gitType: repo.webhookGitType ?? repo.gitType,
            externalGitUrl: repo.webhookRepoUrl ?? repo.externalGitUrl,
            credentialId: repo.webhookCredentialId,
          });
      await old.deleteWebhook(repo.webhookId);
      log.info({ oldWebhookId: repo.webhookId }, "previous webhook removed");
    } catch (err) {
      log.warn(
        { oldWebhookId: repo.webhookId, err: errorMessage(err) },
        "could not remove the previous webhook",
      );
      return;
    }
    if (!sameRepo) await clearInstalledWebhook(this.db.sql, repo.appId, repo.webhookId);
  }

  private failure(repo: GitRepoRecord, err: unknown): BindOutcome {
    const attempts = repo.attempts + 1;
    const retry = bindRetryDelayMs(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs);
    if (err instanceof CredentialProblemError) {
      return { state: "NEEDS_CREDENTIAL", lastError: err.message, retryInMs: null, attempts };
    }
    if (err instanceof GitProviderError && err.failure === "unauthorized") {
      // The token may be given the missing rights on the provider's side: tried again now and then.
      return {
        state: "NEEDS_CREDENTIAL",
        lastError:
          needsCredential(repo.gitType) && !repo.credentialId
            ? `${err.message} (no credential bound)`
            : err.message,
        retryInMs: this.opts.retryMaxMs,
        attempts,
      };
    }
    return { state: "ERROR", lastError: errorMessage(err), retryInMs: retry, attempts };
  }
}

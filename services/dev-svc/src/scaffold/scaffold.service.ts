import type { ScaffoldState } from "@procode/contracts";
import { randomUUID } from "node:crypto";
import { errorMessage, type Logger, type Outbox } from "@procode/service-kit";
import { GitProviderError } from "../integrations/git/errors.js";
import type { GitProvider, RepoInfo } from "../integrations/git/provider.js";
import type { BindStep } from "../git/repo-binder.service.js";
import { emitRepositoryChanged } from "../git/repository-live.js";
import { findRepo, setScaffoldState, type GitRepoRecord } from "../store/git-repo.repository.js";
import { gitBlobId, type ScaffoldTemplate, type TemplateCatalog } from "./templates.js";

/** The branch a scaffold creates in an empty repository. */
const SCAFFOLD_BRANCH = "main";
const AUTHOR = { name: "Pro-code", email: "procode@users.noreply.local" };

/** A scaffold push that failed; the binding attempt fails with it and is retried. */
class ScaffoldPushError extends Error {
  override name = "ScaffoldPushError";
}

/**
 * The scaffold push (the app's scaffoldTemplate), a step of every binding attempt of a repository
 * whose app names a template: an empty repository gets the template as its first commit on `main`
 * (PUSHED); a repository with commits is left untouched (SKIPPED_NOT_EMPTY). Idempotent: once PUSHED
 * or SKIPPED_NOT_EMPTY nothing is done again, and a repository that already holds exactly the
 * template's files (a commit whose answer was lost) counts as PUSHED rather than being committed
 * twice. A failure is recorded (FAILED and why) and fails the binding attempt, so the binder's retry
 * loop tries again.
 */
export class ScaffoldService {
  constructor(
    private readonly outbox: Outbox,
    private readonly templates: TemplateCatalog,
  ) {}

  readonly step: BindStep = ({ repo, provider, info, log }) => this.run(repo, provider, info, log);

  private async run(
    repo: GitRepoRecord,
    provider: GitProvider,
    info: RepoInfo,
    log: Logger,
  ): Promise<Partial<Pick<RepoInfo, "defaultBranch" | "isEmpty">> | void> {
    if (!repo.scaffoldTemplate) return;
    if (repo.scaffoldState === "PUSHED" || repo.scaffoldState === "SKIPPED_NOT_EMPTY") return;
    const template = this.templates.get(repo.scaffoldTemplate);
    if (!template) {
      // Not retried: only a new configuration can fix it (and makes the binding due again).
      await this.record(repo, "FAILED", `unknown scaffold template "${repo.scaffoldTemplate}"`);
      log.warn({ template: repo.scaffoldTemplate }, "unknown scaffold template; nothing pushed");
      return;
    }
    try {
      if (!info.isEmpty) {
        if (await this.holdsTemplate(provider, info, template)) {
          await this.record(
            repo,
            "PUSHED",
            `the ${template.name} template is already on ${info.defaultBranch ?? "the default branch"}`,
          );
          return;
        }
        await this.record(
          repo,
          "SKIPPED_NOT_EMPTY",
          `the repository already has commits${info.defaultBranch ? ` on ${info.defaultBranch}` : ""}; the ${template.name} template was not pushed`,
        );
        log.info({ template: template.name }, "repository not empty; scaffold skipped");
        return;
      }
      const { commitId } = await provider.commitFiles({
        branch: SCAFFOLD_BRANCH,
        message: template.commitMessage,
        files: template.files.map((f) => ({ path: f.path, content: f.content })),
        author: AUTHOR,
      });
      await this.record(
        repo,
        "PUSHED",
        `the ${template.name} template was committed to ${SCAFFOLD_BRANCH} as ${commitId.slice(0, 12)} (${template.files.length} files)`,
      );
      log.info({ template: template.name, commitId }, "scaffold pushed");
      return { isEmpty: false, defaultBranch: info.defaultBranch ?? SCAFFOLD_BRANCH };
    } catch (err) {
      const why =
        err instanceof GitProviderError && err.failure === "conflict"
          ? `${err.message}; the repository changed meanwhile and is looked at again`
          : errorMessage(err);
      const message = `scaffold push of the ${template.name} template failed: ${why}`;
      await this.record(repo, "FAILED", message).catch((e) =>
        log.warn({ err: errorMessage(e) }, "could not record the scaffold failure"),
      );
      throw new ScaffoldPushError(message, { cause: err });
    }
  }

  /** True when the default branch holds every template file with the template's content. */
  private async holdsTemplate(
    provider: GitProvider,
    info: RepoInfo,
    template: ScaffoldTemplate,
  ): Promise<boolean> {
    const branch = info.defaultBranch ?? SCAFFOLD_BRANCH;
    let head: string;
    try {
      head = await provider.resolveRef(branch);
    } catch (err) {
      if (err instanceof GitProviderError && err.failure === "ref_not_found") return false;
      throw err;
    }
    const blobs = new Map(
      (await provider.readTree(head)).filter((e) => e.type === "blob").map((e) => [e.path, e.sha]),
    );
    return template.files.every((f) => blobs.get(f.path) === gitBlobId(f.content));
  }

  /**
   * Records the scaffold state for the binding being worked on, unless the app's binding changed
   * since, with its live event (docs/api.md, "Live events").
   */
  private async record(repo: GitRepoRecord, state: ScaffoldState, message: string): Promise<void> {
    await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
      const current = await findRepo(tx.sql, repo.appId, { forUpdate: true });
      if (!current || current.generation !== repo.generation) return;
      await setScaffoldState(tx.sql, repo.appId, state, message.replaceAll("\u0000", "").slice(0, 2000));
      await emitRepositoryChanged(tx, repo.appId);
    });
  }
}

import { request } from "undici";
import type { Actor, GitRef, GitRefList, RepoBinding, WebIdeLink } from "@procode/contracts";
import {
  DomainError,
  errorMessage,
  invalidParameter,
  type Logger,
  type Database,
} from "@procode/service-kit";
import { isValidRefName } from "../domain/git-refs.js";
import { locateRepository } from "../domain/repository-location.js";
import { localIdeHint, renderWebIdeUrl } from "../domain/webide.js";
import { GitProviderError } from "../integrations/git/errors.js";
import { findRepo, type GitRepoRecord } from "../store/git-repo.repository.js";
import { getCachedRefs, putCachedRefs, type RefKind } from "../store/ref-cache.repository.js";
import { requireTeamApp } from "./app-access.js";
import type { RepositoryAccess } from "./repository-access.js";

export interface RepoReadOptions {
  cacheTtlMs: number;
  webIdeTemplate: string | undefined;
  webIdeCheckTimeoutMs: number;
  webIdeCheckCacheMs: number;
}

function toRepoBinding(r: GitRepoRecord): RepoBinding {
  return {
    appId: r.appId,
    externalGitUrl: r.externalGitUrl,
    gitType: r.gitType,
    credentialId: r.credentialId,
    webhookUrl: r.webhookUrl,
    webhookId: r.webhookId,
    state: r.state,
    lastError: r.lastError,
    scaffold: { state: r.scaffoldState, message: r.scaffoldMessage },
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * Reads of an app's repository for callers: the binding, branch and tag lists through a read-through
 * cache that answers (flagged stale) when the provider is down, and the WebIDE link with
 * its local-IDE fallback.
 */
export class RepoReads {
  private webIdeSeen: { at: number; up: boolean; reason: string } | null = null;

  constructor(
    private readonly db: Database,
    private readonly access: RepositoryAccess,
    private readonly log: Logger,
    private readonly opts: RepoReadOptions,
  ) {}

  private async repoOf(actor: Actor, appId: number): Promise<GitRepoRecord> {
    const sql = this.db.sql;
    await requireTeamApp(sql, actor, appId);
    const repo = await findRepo(sql, appId);
    if (!repo) {
      throw new DomainError(
        "REPO_NOT_BOUND",
        `app ${appId} has no repository (a low-code app, or its configuration has not arrived yet)`,
      );
    }
    return repo;
  }

  async binding(actor: Actor, appId: number): Promise<RepoBinding> {
    return toRepoBinding(await this.repoOf(actor, appId));
  }

  async refs(actor: Actor, appId: number, kind: RefKind): Promise<GitRefList> {
    const repo = await this.repoOf(actor, appId);
    const sql = this.db.sql;
    const cached = await getCachedRefs(sql, appId, kind);
    if (cached && !cached.invalidated && Date.now() - Date.parse(cached.fetchedAt) < this.opts.cacheTtlMs) {
      return { items: cached.items, stale: false, fetchedAt: cached.fetchedAt, message: null };
    }
    const fetchedAt = new Date();
    let items: GitRef[];
    try {
      const provider = await this.access.providerFor(repo, { sql });
      const list = kind === "branches" ? await provider.listBranches() : await provider.listTags();
      items = list.map((r) => ({ name: r.name, commitId: r.commitId }));
      if (kind === "branches") items.sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      const down =
        err instanceof GitProviderError && (err.failure === "unavailable" || err.failure === "timeout");
      if (!down) throw err;
      if (cached) {
        this.log.warn({ appId, kind, err: errorMessage(err) }, "provider down; answering from the cache");
        return {
          items: cached.items,
          stale: true,
          fetchedAt: cached.fetchedAt,
          message: `${repo.gitType} is unavailable, showing the ${kind} as of ${cached.fetchedAt}; retry later`,
        };
      }
      throw new DomainError("GIT_PROVIDER_UNAVAILABLE", `${err.message}; no cached ${kind} for this app yet`);
    }
    await putCachedRefs(sql, appId, kind, items, fetchedAt);
    return { items, stale: false, fetchedAt: fetchedAt.toISOString(), message: null };
  }

  async webIde(actor: Actor, appId: number, branchParam: string | undefined): Promise<WebIdeLink> {
    const repo = await this.repoOf(actor, appId);
    const branch = branchParam ?? repo.defaultBranch ?? "main";
    if (!isValidRefName(branch)) throw invalidParameter("branch", "is not a valid branch name");
    const cloneUrl = await this.cloneUrlOf(repo);
    const template = this.opts.webIdeTemplate;
    if (!template) {
      return {
        available: false,
        url: null,
        cloneUrl,
        branch,
        hint: localIdeHint(cloneUrl, branch, "no WebIDE is configured"),
      };
    }
    const url = renderWebIdeUrl(template, { cloneUrl, branch });
    const check = await this.webIdeUp(url);
    if (!check.up) {
      return {
        available: false,
        url: null,
        cloneUrl,
        branch,
        hint: localIdeHint(cloneUrl, branch, `the WebIDE is not answering (${check.reason})`),
      };
    }
    return { available: true, url, cloneUrl, branch, hint: null };
  }

  private async cloneUrlOf(repo: GitRepoRecord): Promise<string> {
    const located = locateRepository(repo.externalGitUrl, repo.gitType);
    if (!located.ok) return repo.externalGitUrl;
    if (located.location.kind === "remote") return located.location.cloneUrl;
    try {
      return (await (await this.access.providerFor(repo)).probe()).cloneUrl;
    } catch {
      return repo.externalGitUrl;
    }
  }

  /** Whether the WebIDE answers (any HTTP answer below 500), remembered for a few seconds. */
  private async webIdeUp(url: string): Promise<{ up: boolean; reason: string }> {
    const seen = this.webIdeSeen;
    if (seen && Date.now() - seen.at < this.opts.webIdeCheckCacheMs) return seen;
    let result: { up: boolean; reason: string };
    try {
      const res = await request(new URL(url).origin, {
        method: "GET",
        headersTimeout: this.opts.webIdeCheckTimeoutMs,
        bodyTimeout: this.opts.webIdeCheckTimeoutMs,
        signal: AbortSignal.timeout(this.opts.webIdeCheckTimeoutMs),
      });
      await res.body.dump();
      result =
        res.statusCode < 500 ? { up: true, reason: "" } : { up: false, reason: `HTTP ${res.statusCode}` };
    } catch (err) {
      result = { up: false, reason: errorMessage(err).slice(0, 120) };
    }
    this.webIdeSeen = { at: Date.now(), ...result };
    return result;
  }
}

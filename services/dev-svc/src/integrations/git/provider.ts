import type { GitType } from "@procode/contracts";
import type { CommitState } from "../../domain/commit-status.js";

/**
 * The port every git hosting adapter implements (GitLab, GitHub, Gitee, LOCAL). Each call is bounded
 * by the provider call policy (timeout, retries on transient failures only) and fails with a
 * GitProviderError whose message names the problem and never contains a token.
 */
export interface RepoInfo {
  /** The default branch, or null for an empty repository. */
  defaultBranch: string | null;
  isEmpty: boolean;
  /** Where a person clones it. */
  cloneUrl: string;
}

export interface RefInfo {
  name: string;
  commitId: string;
}

export interface TreeEntry {
  /** Path from the repository root, `src/app/main.py`. */
  path: string;
  type: "blob" | "tree" | "commit";
  mode: string;
  /** Object id of the blob or tree. */
  sha: string;
}

interface FileToCommit {
  path: string;
  content: Buffer | string;
}

export interface CommitRequest {
  branch: string;
  message: string;
  files: FileToCommit[];
  author?: { name: string; email: string };
}

export interface WebhookSpec {
  /** Where the provider delivers (the app's webhook URL). */
  url: string;
  /** The app's webhook secret (GitLab token, GitHub HMAC secret, Gitee signature key, LOCAL HMAC key). */
  secret: string;
}

export interface CreatedTag {
  name: string;
  commitId: string;
  /** False when the tag already pointed at that commit (idempotent success). */
  created: boolean;
}

/** A commit status for one context (docs/services/dev-svc.md "Commit statuses"). */
export interface CommitStatusSpec {
  state: CommitState;
  /** `procode/<STAGE>`. */
  context: string;
  description: string;
  /** The console's page of the pipeline; null when the platform's public URL is not configured. */
  targetUrl: string | null;
}

export interface GitProvider {
  readonly gitType: GitType;
  /** A readable description for logs and messages, e.g. `GitLab group/app`. */
  readonly describe: string;

  /** The repository exists and the credential may read it. */
  probe(): Promise<RepoInfo>;
  /**
   * Installs the app's webhook (push and tag push events). Hooks already pointing at the same URL
   * are replaced, so the secret is always current. Returns the provider's hook id.
   */
  createWebhook(spec: WebhookSpec): Promise<{ id: string }>;
  /** Removes a hook; a hook that is already gone is success. */
  deleteWebhook(id: string): Promise<void>;
  /**
   * Creates a lightweight tag on a commit. The same tag on the same commit is success
   * (`created: false`); on another commit it fails with failure `tag_exists_elsewhere` (2003).
   */
  createTag(name: string, commitId: string): Promise<CreatedTag>;
  /** The commit a branch, tag or commit id names; failure `ref_not_found` when none. */
  resolveRef(ref: string): Promise<string>;
  /** A file's bytes at a commit; failure `file_not_found` when there is no such file. */
  readFile(path: string, commitId: string): Promise<Buffer>;
  /** Every entry of the tree at a commit, recursively, with paths from the root. */
  readTree(commitId: string): Promise<TreeEntry[]>;
  listBranches(): Promise<RefInfo[]>;
  /** Tags with the commit each points at (annotated tags peeled). */
  listTags(): Promise<RefInfo[]>;
  isEmpty(): Promise<boolean>;
  /**
   * One commit writing `files` (created or overwritten) on `branch`; in an empty repository it
   * creates the branch. Fails with `conflict` when the branch moved while committing.
   */
  commitFiles(request: CommitRequest): Promise<{ commitId: string }>;
  /**
   * Sets the status of `context` on a commit (the state in the provider's words). Setting the state
   * the context already has is success. LOCAL repositories have none (`rejected`).
   */
  setCommitStatus(commitId: string, status: CommitStatusSpec): Promise<void>;
}

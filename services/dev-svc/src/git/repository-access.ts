import type { GitType } from "@procode/contracts";
import { DomainError, type Database, type Sql } from "@procode/service-kit";
import { needsCredential } from "../domain/binding.js";
import type { ProviderFactory } from "../integrations/git/factory.js";
import type { GitProvider } from "../integrations/git/provider.js";
import { findCredential } from "../store/credential.repository.js";
import { findRepo, type GitRepoRecord } from "../store/git-repo.repository.js";
import { openFailure, type Secrets } from "./secrets.js";

/** Why the binding cannot use its credential (the binding shows NEEDS_CREDENTIAL). */
export class CredentialProblemError extends DomainError {
  override name = "CredentialProblemError";
  constructor(message: string) {
    super("CREDENTIAL_NOT_FOUND", message);
  }
}

export interface RepositoryRef {
  team: string;
  gitType: GitType;
  externalGitUrl: string;
  credentialId: string | null;
}

/**
 * Gives the GitProvider of an app's repository with its credential's token decrypted. Iterations
 * (tagging), stage runners and the scaffold push use it; the token lives only inside the adapter.
 */
export class RepositoryAccess {
  constructor(
    private readonly db: Database,
    private readonly factory: ProviderFactory,
    private readonly secrets: Secrets,
  ) {}

  /**
   * The provider for a repository. `strict`: a missing, foreign or unreadable credential is a
   * CredentialProblemError; otherwise the provider works without a token (public repositories).
   */
  async providerFor(ref: RepositoryRef, opts: { strict?: boolean; sql?: Sql } = {}): Promise<GitProvider> {
    const sql = opts.sql ?? this.db.sql;
    let token: string | null = null;
    if (ref.credentialId) {
      try {
        token = await this.tokenOf(sql, ref);
      } catch (err) {
        if (opts.strict) throw err;
      }
    } else if (opts.strict && needsCredential(ref.gitType)) {
      throw new CredentialProblemError(
        `a ${ref.gitType} repository needs a credential: create one with POST /credentials and set credentialId in the app's pro-code configuration`,
      );
    }
    return this.factory({ gitType: ref.gitType, repoUrl: ref.externalGitUrl, team: ref.team, token });
  }

  private async tokenOf(sql: Sql, ref: RepositoryRef): Promise<string> {
    const id = ref.credentialId!;
    const cred = await findCredential(sql, ref.team, id);
    if (!cred) throw new CredentialProblemError(`credential ${id} does not exist in team ${ref.team}`);
    if (cred.gitType !== ref.gitType) {
      throw new CredentialProblemError(
        `credential ${id} is for ${cred.gitType}, the repository is on ${ref.gitType}`,
      );
    }
    try {
      return this.secrets.openToken(cred.id, cred.sealed);
    } catch {
      throw new CredentialProblemError(
        `credential ${id} cannot be decrypted: ${openFailure(cred.sealed, this.secrets.keyRing)}`,
      );
    }
  }

  /** The app's repository record and its provider; 1005 when the app has no repository binding. */
  async forApp(
    appId: number,
    opts: { strict?: boolean; sql?: Sql } = {},
  ): Promise<{ repo: GitRepoRecord; provider: GitProvider }> {
    const sql = opts.sql ?? this.db.sql;
    const repo = await findRepo(sql, appId);
    if (!repo) throw new DomainError("REPO_NOT_BOUND", `app ${appId} has no repository binding`);
    return { repo, provider: await this.providerFor(repo, { ...opts, sql }) };
  }
}

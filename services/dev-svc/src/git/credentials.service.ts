import { randomUUID } from "node:crypto";
import type {
  Actor,
  CheckCredentialReply,
  CheckCredentialRequest,
  CreateCredentialRequest,
  Credential,
  Page,
  PageQuery,
} from "@procode/contracts";
import {
  DomainError,
  invalidParameter,
  type Database,
  type Logger,
  type Outbox,
  type RecordAnswer,
} from "@procode/service-kit";
import {
  deleteCredential,
  findCredential,
  insertCredential,
  listCredentials,
  type CredentialRecord,
} from "../store/credential.repository.js";
import { reposUsingCredential, wakeReposOfCredential } from "../store/git-repo.repository.js";
import { emitRepositoryChanged } from "./repository-live.js";
import type { Secrets } from "./secrets.js";

/** What callers see of a credential: metadata only, never the token. */
function toCredentialView(c: CredentialRecord): Credential {
  return {
    id: c.id,
    gitType: c.gitType,
    name: c.name,
    username: c.username,
    keyId: c.sealed.keyId,
    createdBy: c.createdBy,
    createdAt: c.createdAt,
  };
}

/** Git credentials of a team: tokens sealed with AES-256-GCM, write-only. */
export class CredentialService {
  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
    private readonly secrets: Secrets,
    private readonly log: Logger,
    /** Called after a credential arrives, so bindings waiting for it are retried at once. */
    private readonly onCredentialAdded: () => void = () => {},
  ) {}

  /** `record` stores the answer in the credential's transaction (an Idempotency-Key's first answer). */
  async create(
    actor: Actor,
    body: CreateCredentialRequest,
    record: RecordAnswer = async () => {},
  ): Promise<Credential> {
    const token = body.token.trim();
    // A token is one word of printable characters; anything else is a paste mistake.
    // eslint-disable-next-line no-control-regex
    if (!token || /[\s\x00-\x1f\x7f]/.test(token)) {
      throw invalidParameter("token", "must be one word of printable characters (no spaces or line breaks)");
    }
    for (const [field, value] of [
      ["name", body.name],
      ["username", body.username ?? ""],
    ] as const) {
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f]/.test(value)) throw invalidParameter(field, "must not contain control characters");
    }
    const id = randomUUID();
    const sealed = this.secrets.sealToken(id, token);
    const view = await this.outbox.sqlTransaction(randomUUID(), async (tx) => {
      const sql = tx.sql;
      const rec = await insertCredential(sql, {
        id,
        team: actor.team,
        gitType: body.gitType,
        name: body.name,
        username: body.username ?? null,
        sealed,
        createdBy: actor.sub,
      });
      for (const appId of await wakeReposOfCredential(sql, actor.team, id)) {
        await emitRepositoryChanged(tx, appId);
      }
      const created = toCredentialView(rec);
      await record(sql, created);
      return created;
    });
    this.log.info({ credentialId: id, gitType: body.gitType, team: actor.team }, "credential created");
    this.onCredentialAdded();
    return view;
  }

  async list(actor: Actor, q: PageQuery): Promise<Page<Credential>> {
    const { items, total } = await listCredentials(this.db.sql, actor.team, {
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    return { items: items.map(toCredentialView), total, page: q.page, pageSize: q.pageSize };
  }

  async get(actor: Actor, id: string): Promise<Credential> {
    const c = await findCredential(this.db.sql, actor.team, id);
    if (!c) throw new DomainError("CREDENTIAL_NOT_FOUND", `credential ${id} not found`);
    return toCredentialView(c);
  }

  /**
   * Whether a credential of the team can serve a repository of `gitType` (app-svc asks before it
   * stores a credentialId). Another team's credential is as unknown as a missing one.
   */
  async check(q: CheckCredentialRequest): Promise<CheckCredentialReply> {
    const c = await findCredential(this.db.sql, q.team, q.credentialId);
    if (!c)
      return { usable: false, reason: `no credential ${q.credentialId} in your team (POST /credentials)` };
    if (c.gitType !== q.gitType) {
      return {
        usable: false,
        reason: `credential ${q.credentialId} is for ${c.gitType}; the repository is on ${q.gitType}`,
      };
    }
    return { usable: true, reason: null };
  }

  /** Deletes a credential no repository binding uses (5005 names the apps that do). */
  async delete(actor: Actor, id: string): Promise<{ id: string }> {
    await this.db.transaction(async (sql) => {
      const c = await findCredential(sql, actor.team, id);
      if (!c) throw new DomainError("CREDENTIAL_NOT_FOUND", `credential ${id} not found`);
      const apps = await reposUsingCredential(sql, actor.team, id);
      if (apps.length > 0) {
        throw new DomainError(
          "CREDENTIAL_IN_USE",
          `credential ${id} is used by the repository of app${apps.length > 1 ? "s" : ""} ${apps.join(", ")}; bind another credential first`,
          { appIds: apps },
        );
      }
      await deleteCredential(sql, actor.team, id);
    });
    this.log.info({ credentialId: id, team: actor.team }, "credential deleted");
    return { id };
  }
}

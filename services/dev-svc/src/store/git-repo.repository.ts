import type { GitType, RepoBindingState, ScaffoldState, SealedSecret } from "@procode/contracts";
import { Leases, type Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

/** The seed's git_repo row (4.1) with the state of the app's repository binding. */
export interface GitRepoRecord {
  id: number;
  appId: number;
  team: string;
  externalGitUrl: string;
  gitType: GitType;
  credentialId: string | null;
  webhookUrl: string | null;
  webhookSecret: SealedSecret | null;
  /** The hook installed on the provider, and where (to remove it when the repository changes). */
  webhookId: string | null;
  webhookRepoUrl: string | null;
  webhookGitType: GitType | null;
  webhookCredentialId: string | null;
  state: RepoBindingState;
  lastError: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  /** Grows with every change of what the binding should be; a bind result for an older one is dropped. */
  generation: number;
  defaultBranch: string | null;
  isEmpty: boolean | null;
  scaffoldTemplate: string | null;
  scaffoldState: ScaffoldState;
  scaffoldMessage: string | null;
  boundAt: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  app_id: string;
  team: string;
  external_git_url: string;
  git_type: GitType;
  credential_id: string | null;
  webhook_url: string | null;
  webhook_secret_key_id: string | null;
  webhook_secret_ciphertext: string | null;
  webhook_id: string | null;
  webhook_repo_url: string | null;
  webhook_git_type: GitType | null;
  webhook_credential_id: string | null;
  state: RepoBindingState;
  last_error: string | null;
  attempts: number;
  next_attempt_at: Date | null;
  generation: number;
  default_branch: string | null;
  is_empty: boolean | null;
  scaffold_template: string | null;
  scaffold_state: ScaffoldState;
  scaffold_message: string | null;
  bound_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toRecord = (r: Row): GitRepoRecord => ({
  id: Number(r.id),
  appId: Number(r.app_id),
  team: r.team,
  externalGitUrl: r.external_git_url,
  gitType: r.git_type,
  credentialId: r.credential_id,
  webhookUrl: r.webhook_url,
  webhookSecret:
    r.webhook_secret_key_id && r.webhook_secret_ciphertext
      ? { keyId: r.webhook_secret_key_id, ciphertext: r.webhook_secret_ciphertext }
      : null,
  webhookId: r.webhook_id,
  webhookRepoUrl: r.webhook_repo_url,
  webhookGitType: r.webhook_git_type,
  webhookCredentialId: r.webhook_credential_id,
  state: r.state,
  lastError: r.last_error,
  attempts: r.attempts,
  nextAttemptAt: iso(r.next_attempt_at),
  generation: r.generation,
  defaultBranch: r.default_branch,
  isEmpty: r.is_empty,
  scaffoldTemplate: r.scaffold_template,
  scaffoldState: r.scaffold_state,
  scaffoldMessage: r.scaffold_message,
  boundAt: iso(r.bound_at),
  createdAt: iso(r.created_at)!,
  updatedAt: iso(r.updated_at)!,
});

export async function findRepo(
  db: Sql,
  appId: number,
  opts: { forUpdate?: boolean } = {},
): Promise<GitRepoRecord | null> {
  const r =
    (
      await db.query<Row>(
        `select * from ${S}.git_repo where app_id = $1${opts.forUpdate ? " for update" : ""}`,
        [appId],
      )
    ).rows[0] ?? null;
  return r ? toRecord(r) : null;
}

/** What the binding should be, from the app's latest pro-code settings. */
export interface DesiredBinding {
  appId: number;
  team: string;
  externalGitUrl: string;
  gitType: GitType;
  credentialId: string | null;
  webhookUrl: string;
  webhookSecret: SealedSecret;
  scaffoldTemplate: string | null;
}

export async function insertRepo(db: Sql, d: DesiredBinding): Promise<void> {
  await db.query(
    `insert into ${S}.git_repo (app_id, team, external_git_url, git_type, credential_id, webhook_url,
       webhook_secret_key_id, webhook_secret_ciphertext, scaffold_template, scaffold_state, state, next_attempt_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'PENDING', now())`,
    [
      d.appId,
      d.team,
      d.externalGitUrl,
      d.gitType,
      d.credentialId,
      d.webhookUrl,
      d.webhookSecret.keyId,
      d.webhookSecret.ciphertext,
      d.scaffoldTemplate,
      d.scaffoldTemplate ? "PENDING" : "NOT_REQUESTED",
    ],
  );
}

/** A new desired binding for an existing row: back to PENDING, due now, next generation. */
export async function updateDesired(
  db: Sql,
  d: DesiredBinding,
  opts: { scaffoldReset: boolean },
): Promise<void> {
  await db.query(
    `update ${S}.git_repo set team = $1, external_git_url = $2, git_type = $3, credential_id = $4, webhook_url = $5,
       webhook_secret_key_id = $6, webhook_secret_ciphertext = $7, scaffold_template = $8,
       scaffold_state = case when $9 then $10 else scaffold_state end,
       scaffold_message = case when $11 then null else scaffold_message end,
       state = 'PENDING', last_error = null, attempts = 0, next_attempt_at = now(),
       generation = generation + 1, updated_at = now()
     where app_id = $12`,
    [
      d.team,
      d.externalGitUrl,
      d.gitType,
      d.credentialId,
      d.webhookUrl,
      d.webhookSecret.keyId,
      d.webhookSecret.ciphertext,
      d.scaffoldTemplate,
      opts.scaffoldReset,
      d.scaffoldTemplate ? "PENDING" : "NOT_REQUESTED",
      opts.scaffoldReset,
      d.appId,
    ],
  );
}

/**
 * Takes up to `limit` bindings that are due (next attempt passed: PENDING, ERROR, or NEEDS_CREDENTIAL
 * after a refused token, which is tried again now and then) and leases them
 * for `leaseMs`: a process that dies mid-bind leaves them due again after the lease.
 */
/** A claimed binding is due again after the lease, so a process that dies mid-bind loses nothing. */
const bindingLeases = new Leases({ table: `${S}.git_repo`, key: "app_id", until: "next_attempt_at" });

export async function claimDueRepos(db: Sql, limit: number, leaseMs: number): Promise<GitRepoRecord[]> {
  const rows = await bindingLeases.claimDue<Row>(db, {
    due: "next_attempt_at is not null and next_attempt_at <= now() and state <> 'BOUND'",
    orderBy: "next_attempt_at",
    limit,
    ms: leaseMs,
  });
  return rows.map(toRecord);
}

export interface BindOutcome {
  state: RepoBindingState;
  lastError: string | null;
  /** null: no retry scheduled (BOUND, NEEDS_CREDENTIAL); else the delay before the next attempt. */
  retryInMs: number | null;
  attempts: number;
  webhook?: { id: string; repoUrl: string; gitType: GitType; credentialId: string | null } | null;
  defaultBranch?: string | null;
  isEmpty?: boolean | null;
}

/** Records a bind attempt's outcome unless the desired binding changed meanwhile (generation). */
export async function recordBindOutcome(
  db: Sql,
  appId: number,
  generation: number,
  o: BindOutcome,
): Promise<boolean> {
  // Provider messages are outside text: kept short, and without NUL (which text columns refuse).
  const lastError = o.lastError === null ? null : o.lastError.replaceAll("\u0000", "").slice(0, 2000);
  const params: unknown[] = [appId, generation];
  const param = (value: unknown) => `$${params.push(value)}`;
  const set = (column: string, value: unknown) => `${column} = ${param(value)}`;
  const sets = [
    set("state", o.state),
    set("last_error", lastError),
    set("attempts", o.attempts),
    // No retry (null) leaves no next attempt: null plus anything is null.
    `next_attempt_at = now() + ${param(o.retryInMs)}::bigint * interval '1 millisecond'`,
    "updated_at = now()",
  ];
  if (o.state === "BOUND") sets.push("bound_at = now()");
  if (o.webhook !== undefined) {
    sets.push(
      set("webhook_id", o.webhook?.id ?? null),
      set("webhook_repo_url", o.webhook?.repoUrl ?? null),
      set("webhook_git_type", o.webhook?.gitType ?? null),
      set("webhook_credential_id", o.webhook?.credentialId ?? null),
    );
  }
  if (o.defaultBranch !== undefined) sets.push(set("default_branch", o.defaultBranch));
  if (o.isEmpty !== undefined) sets.push(set("is_empty", o.isEmpty));
  const res = await db.query(
    `update ${S}.git_repo set ${sets.join(", ")} where app_id = $1 and generation = $2`,
    params,
  );
  return res.rowCount === 1;
}

/** The old hook is gone (removed after the repository changed). */
export async function clearInstalledWebhook(db: Sql, appId: number, webhookId: string): Promise<void> {
  await db.query(
    `update ${S}.git_repo set webhook_id = null, webhook_repo_url = null, webhook_git_type = null,
       webhook_credential_id = null where app_id = $1 and webhook_id = $2`,
    [appId, webhookId],
  );
}

/** Bindings waiting for a credential that now exists (or changed): due at once. Their apps' ids. */
export async function wakeReposOfCredential(db: Sql, team: string, credentialId: string): Promise<number[]> {
  const res = await db.query<{ app_id: string }>(
    `update ${S}.git_repo set state = 'PENDING', attempts = 0, next_attempt_at = now(), updated_at = now()
     where team = $1 and credential_id = $2 and state in ('NEEDS_CREDENTIAL', 'ERROR')
     returning app_id`,
    [team, credentialId],
  );
  return res.rows.map((r) => Number(r.app_id)).sort((a, b) => a - b);
}

export async function reposUsingCredential(db: Sql, team: string, credentialId: string): Promise<number[]> {
  return (
    await db.query<{ app_id: string }>(
      `select app_id from ${S}.git_repo where team = $1 and credential_id = $2 order by app_id`,
      [team, credentialId],
    )
  ).rows.map((r) => Number(r.app_id));
}

/** Scaffold state of an app's repository (the scaffold runner, issue 8, records here). */
export async function setScaffoldState(
  db: Sql,
  appId: number,
  state: ScaffoldState,
  message: string | null,
): Promise<void> {
  await db.query(
    `update ${S}.git_repo set scaffold_state = $1, scaffold_message = $2, updated_at = now() where app_id = $3`,
    [state, message, appId],
  );
}

/** Webhook secrets not sealed under `activeKeyId` (key rotation). */
export async function reposToReseal(db: Sql, activeKeyId: string, limit: number): Promise<GitRepoRecord[]> {
  return (
    await db.query<Row>(
      `select * from ${S}.git_repo where webhook_secret_key_id is not null and webhook_secret_key_id <> $1 order by app_id limit $2`,
      [activeKeyId, limit],
    )
  ).rows.map(toRecord);
}

export async function updateSealedWebhookSecret(
  db: Sql,
  appId: number,
  from: SealedSecret,
  to: SealedSecret,
): Promise<boolean> {
  return (
    (
      await db.query(
        `update ${S}.git_repo set webhook_secret_key_id = $1, webhook_secret_ciphertext = $2
       where app_id = $3 and webhook_secret_key_id = $4 and webhook_secret_ciphertext = $5`,
        [to.keyId, to.ciphertext, appId, from.keyId, from.ciphertext],
      )
    ).rowCount === 1
  );
}

import type { GitType, RepoBindingState, ScaffoldState, SealedSecret } from "@procode/contracts";
import { all, iso, one, run, S, type Db } from "./sql.js";

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
  em: Db,
  appId: number,
  opts: { forUpdate?: boolean } = {},
): Promise<GitRepoRecord | null> {
  const r = await one<Row>(
    em,
    `select * from ${S}.git_repo where app_id = ?${opts.forUpdate ? " for update" : ""}`,
    [appId],
  );
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

export async function insertRepo(em: Db, d: DesiredBinding): Promise<void> {
  await run(
    em,
    `insert into ${S}.git_repo (app_id, team, external_git_url, git_type, credential_id, webhook_url,
       webhook_secret_key_id, webhook_secret_ciphertext, scaffold_template, scaffold_state, state, next_attempt_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', now())`,
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
  em: Db,
  d: DesiredBinding,
  opts: { scaffoldReset: boolean },
): Promise<void> {
  await run(
    em,
    `update ${S}.git_repo set team = ?, external_git_url = ?, git_type = ?, credential_id = ?, webhook_url = ?,
       webhook_secret_key_id = ?, webhook_secret_ciphertext = ?, scaffold_template = ?,
       scaffold_state = case when ? then ? else scaffold_state end,
       scaffold_message = case when ? then null else scaffold_message end,
       state = 'PENDING', last_error = null, attempts = 0, next_attempt_at = now(),
       generation = generation + 1, updated_at = now()
     where app_id = ?`,
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
export async function claimDueRepos(em: Db, limit: number, leaseMs: number): Promise<GitRepoRecord[]> {
  const rows = await all<Row>(
    em,
    `update ${S}.git_repo set next_attempt_at = now() + (? || ' milliseconds')::interval
     where app_id in (
       select app_id from ${S}.git_repo
       where next_attempt_at is not null and next_attempt_at <= now() and state <> 'BOUND'
       order by next_attempt_at limit ? for update skip locked)
     returning *`,
    [String(leaseMs), limit],
  );
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
  em: Db,
  appId: number,
  generation: number,
  o: BindOutcome,
): Promise<boolean> {
  const sets = [
    "state = ?",
    "last_error = ?",
    "attempts = ?",
    "next_attempt_at = case when ?::bigint is null then null else now() + (?::bigint || ' milliseconds')::interval end",
    "updated_at = now()",
  ];
  // Provider messages are outside text: kept short, and without NUL (which text columns refuse).
  const lastError = o.lastError === null ? null : o.lastError.replaceAll("\u0000", "").slice(0, 2000);
  const params: unknown[] = [o.state, lastError, o.attempts, o.retryInMs, o.retryInMs];
  if (o.state === "BOUND") sets.push("bound_at = now()");
  if (o.webhook !== undefined) {
    sets.push("webhook_id = ?", "webhook_repo_url = ?", "webhook_git_type = ?", "webhook_credential_id = ?");
    params.push(
      o.webhook?.id ?? null,
      o.webhook?.repoUrl ?? null,
      o.webhook?.gitType ?? null,
      o.webhook?.credentialId ?? null,
    );
  }
  if (o.defaultBranch !== undefined) {
    sets.push("default_branch = ?");
    params.push(o.defaultBranch);
  }
  if (o.isEmpty !== undefined) {
    sets.push("is_empty = ?");
    params.push(o.isEmpty);
  }
  params.push(appId, generation);
  return (
    (await run(
      em,
      `update ${S}.git_repo set ${sets.join(", ")} where app_id = ? and generation = ?`,
      params,
    )) === 1
  );
}

/** The old hook is gone (removed after the repository changed). */
export async function clearInstalledWebhook(em: Db, appId: number, webhookId: string): Promise<void> {
  await run(
    em,
    `update ${S}.git_repo set webhook_id = null, webhook_repo_url = null, webhook_git_type = null,
       webhook_credential_id = null where app_id = ? and webhook_id = ?`,
    [appId, webhookId],
  );
}

/** Bindings waiting for a credential that now exists (or changed): due at once. */
export async function wakeReposOfCredential(em: Db, team: string, credentialId: string): Promise<number> {
  return run(
    em,
    `update ${S}.git_repo set state = 'PENDING', attempts = 0, next_attempt_at = now(), updated_at = now()
     where team = ? and credential_id = ? and state in ('NEEDS_CREDENTIAL', 'ERROR')`,
    [team, credentialId],
  );
}

export async function reposUsingCredential(em: Db, team: string, credentialId: string): Promise<number[]> {
  return (
    await all<{ app_id: string }>(
      em,
      `select app_id from ${S}.git_repo where team = ? and credential_id = ? order by app_id`,
      [team, credentialId],
    )
  ).map((r) => Number(r.app_id));
}

/** Scaffold state of an app's repository (the scaffold runner, issue 8, records here). */
export async function setScaffoldState(
  em: Db,
  appId: number,
  state: ScaffoldState,
  message: string | null,
): Promise<void> {
  await run(
    em,
    `update ${S}.git_repo set scaffold_state = ?, scaffold_message = ?, updated_at = now() where app_id = ?`,
    [state, message, appId],
  );
}

/** Webhook secrets not sealed under `activeKeyId` (key rotation). */
export async function reposToReseal(em: Db, activeKeyId: string, limit: number): Promise<GitRepoRecord[]> {
  return (
    await all<Row>(
      em,
      `select * from ${S}.git_repo where webhook_secret_key_id is not null and webhook_secret_key_id <> ? order by app_id limit ?`,
      [activeKeyId, limit],
    )
  ).map(toRecord);
}

export async function updateSealedWebhookSecret(
  em: Db,
  appId: number,
  from: SealedSecret,
  to: SealedSecret,
): Promise<boolean> {
  return (
    (await run(
      em,
      `update ${S}.git_repo set webhook_secret_key_id = ?, webhook_secret_ciphertext = ?
       where app_id = ? and webhook_secret_key_id = ? and webhook_secret_ciphertext = ?`,
      [to.keyId, to.ciphertext, appId, from.keyId, from.ciphertext],
    )) === 1
  );
}

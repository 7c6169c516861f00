import type { DeployConfig } from "@procode/contracts";
import { Leases, type Sql, type StageLogHead, type WithPart } from "@procode/service-kit";
import type { CancelState, DeploymentStatus, Outcome, Via } from "../domain/deployment.js";

/**
 * The `ops.deployment` and `ops.deployment_observation` tables. Plain SQL rather than ORM entities:
 * the work here is conditional updates under row locks and lease claims with
 * `FOR UPDATE SKIP LOCKED`, which read best as the SQL they are.
 */

export interface Deployment {
  id: number;
  pipelineId: number;
  attempt: number;
  appId: number;
  team: string;
  image: string;
  deployConfig: DeployConfig;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  correlationId: string;
  /** Sent to ops as the idempotency key of the create (stable across retries of this row). */
  requestKey: string;
  status: DeploymentStatus;
  deployId: string | null;
  opsStatus: string | null;
  opsMessage: string | null;
  deadline: Date | null;
  nextPollAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  failures: number;
  waitingSince: Date | null;
  lastError: string | null;
  cancelState: CancelState | null;
  cancelAttempts: number;
  outcome: Outcome | null;
  outcomeVia: Via | null;
  outcomeMessage: string | null;
  finishedAt: Date | null;
  lastEventType: string | null;
  lastEventData: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
  /**
   * Where the attempt's DEPLOY log stands, read with the row's lock (`lockBy...`); the lock keeps
   * every other writer of that log out until the transaction ends. Absent on rows read otherwise.
   */
  logHead?: StageLogHead;
}

const T = `ops.deployment`;

/**
 * Every column of a deployment row, by the field it fills. Statements list them rather than `*`: a
 * prepared statement then answers the same columns after a later migration adds one to the table,
 * where `*` would fail with "cached plan must not change result type" in a replica still running
 * during a rolling upgrade (docs/reliability.md, "Rolling upgrades"). The `Record` keeps it complete.
 */
const FIELDS: Record<Exclude<keyof Deployment, "logHead">, string> = {
  id: "id",
  pipelineId: "pipeline_id",
  attempt: "attempt",
  appId: "app_id",
  team: "team",
  image: "image",
  deployConfig: "deploy_config",
  pollIntervalMs: "poll_interval_ms",
  pollTimeoutMs: "poll_timeout_ms",
  correlationId: "correlation_id",
  requestKey: "request_key",
  status: "status",
  deployId: "deploy_id",
  opsStatus: "ops_status",
  opsMessage: "ops_message",
  deadline: "deadline",
  nextPollAt: "next_poll_at",
  leaseOwner: "lease_owner",
  leaseUntil: "lease_until",
  failures: "failures",
  waitingSince: "waiting_since",
  lastError: "last_error",
  cancelState: "cancel_state",
  cancelAttempts: "cancel_attempts",
  outcome: "outcome",
  outcomeVia: "outcome_via",
  outcomeMessage: "outcome_message",
  finishedAt: "finished_at",
  lastEventType: "last_event_type",
  lastEventData: "last_event_data",
  createdAt: "created_at",
  updatedAt: "updated_at",
};
const ROW = Object.values(FIELDS).join(", ");

/**
 * The deployment rows `rows` gives (a locking select, or an insert that returns what it wrote) with
 * where each one's DEPLOY log stands (`Deployment.logHead`). The log's row is locked too: a lock
 * taken after a wait reads the row as the transaction that held it left it, where a plain read in
 * the same statement would still see it as it was before the wait.
 */
const withLogHead = (rows: string) =>
  `with d as (${rows}),
     h as (select l.pipeline_id, l.attempt, l.next_seq, l.bytes, l.truncated from ops.stage_log l
       join d on l.pipeline_id = d.pipeline_id and l.stage = 'DEPLOY' and l.attempt = d.attempt for update of l)
   select d.*, h.next_seq as log_next_seq, h.bytes as log_bytes, h.truncated as log_truncated
   from d left join h on h.pipeline_id = d.pipeline_id and h.attempt = d.attempt`;

/** The deployment `which` picks (a `where` on the table, with its order and limit), locked (`withLogHead`). */
const locked = (which: string) => withLogHead(`select ${ROW} from ${T} ${which} for update`);
const OBS = `ops.deployment_observation`;

/** A replica leases the deployments it works on, so replicas never take the same one. */
const leases = new Leases({ table: T, key: "id", owner: "lease_owner", until: "lease_until" });

/** The fields a change of a deployment may write (`update`). */
const UPDATABLE = [
  "status",
  "deployId",
  "opsStatus",
  "opsMessage",
  "deadline",
  "nextPollAt",
  "leaseOwner",
  "leaseUntil",
  "failures",
  "waitingSince",
  "lastError",
  "cancelState",
  "cancelAttempts",
  "outcome",
  "outcomeVia",
  "outcomeMessage",
  "finishedAt",
  "lastEventType",
  "lastEventData",
] as const satisfies readonly (keyof Deployment)[];
export type DeploymentPatch = Partial<Pick<Deployment, (typeof UPDATABLE)[number]>>;
const updatable = new Set<string>(UPDATABLE);

type Row = Record<string, unknown>;

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));
const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

function toDeployment(r: Row): Deployment {
  return {
    id: Number(r["id"]),
    pipelineId: Number(r["pipeline_id"]),
    attempt: Number(r["attempt"]),
    appId: Number(r["app_id"]),
    team: String(r["team"]),
    image: String(r["image"]),
    deployConfig: json<DeployConfig>(r["deploy_config"]),
    pollIntervalMs: Number(r["poll_interval_ms"]),
    pollTimeoutMs: Number(r["poll_timeout_ms"]),
    correlationId: String(r["correlation_id"]),
    requestKey: String(r["request_key"]),
    status: r["status"] as DeploymentStatus,
    deployId: (r["deploy_id"] as string | null) ?? null,
    opsStatus: (r["ops_status"] as string | null) ?? null,
    opsMessage: (r["ops_message"] as string | null) ?? null,
    deadline: date(r["deadline"]),
    nextPollAt: date(r["next_poll_at"]),
    leaseOwner: (r["lease_owner"] as string | null) ?? null,
    leaseUntil: date(r["lease_until"]),
    failures: Number(r["failures"]),
    waitingSince: date(r["waiting_since"]),
    lastError: (r["last_error"] as string | null) ?? null,
    cancelState: (r["cancel_state"] as CancelState | null) ?? null,
    cancelAttempts: Number(r["cancel_attempts"]),
    outcome: (r["outcome"] as Outcome | null) ?? null,
    outcomeVia: (r["outcome_via"] as Via | null) ?? null,
    outcomeMessage: (r["outcome_message"] as string | null) ?? null,
    finishedAt: date(r["finished_at"]),
    lastEventType: (r["last_event_type"] as string | null) ?? null,
    lastEventData: r["last_event_data"] ? json<Record<string, unknown>>(r["last_event_data"]) : null,
    createdAt: date(r["created_at"])!,
    updatedAt: date(r["updated_at"])!,
    ...("log_next_seq" in r
      ? {
          logHead:
            r["log_next_seq"] === null
              ? { nextSeq: 1, bytes: 0, truncated: false }
              : {
                  nextSeq: Number(r["log_next_seq"]),
                  bytes: Number(r["log_bytes"]),
                  truncated: r["log_truncated"] === true,
                },
        }
      : {}),
  };
}

export interface NewDeployment {
  pipelineId: number;
  attempt: number;
  appId: number;
  team: string;
  image: string;
  deployConfig: DeployConfig;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  correlationId: string;
  /** The idempotency key of the create at ops (a UUID; the same whoever asks for this attempt). */
  requestKey: string;
  status: DeploymentStatus;
  /** null: nothing to do (already final). */
  nextPollAt: Date | null;
}

/**
 * Inserts unless (pipelineId, attempt) exists, or, with `unlessLater`, unless a later attempt of the
 * pipeline exists too; returns the new row (with its log's head: `withLogHead`), or null when nothing
 * was inserted.
 */
export async function insertIfAbsent(
  db: Sql,
  d: NewDeployment,
  opts: { unlessLater?: boolean } = {},
): Promise<Deployment | null> {
  const { rows } = await db.query<Row>(
    withLogHead(`insert into ${T} (pipeline_id, attempt, app_id, team, image, deploy_config, poll_interval_ms,
         poll_timeout_ms, correlation_id, request_key, status, next_poll_at)
       select $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $12::uuid, $10, $11
       ${opts.unlessLater ? `where not exists (select 1 from ${T} where pipeline_id = $1 and attempt > $2)` : ""}
       on conflict (pipeline_id, attempt) do nothing
       returning ${ROW}`),
    [
      d.pipelineId,
      d.attempt,
      d.appId,
      d.team,
      d.image,
      JSON.stringify(d.deployConfig),
      d.pollIntervalMs,
      d.pollTimeoutMs,
      d.correlationId,
      d.status,
      d.nextPollAt,
      d.requestKey,
    ],
    opts.unlessLater ? "ops_deployment_insert_unless_later" : "ops_deployment_insert",
  );
  return rows[0] ? toDeployment(rows[0]) : null;
}

/** The deployment of one attempt, locked for the rest of the transaction. */
export async function lockByAttempt(
  db: Sql,
  pipelineId: number,
  attempt: number,
): Promise<Deployment | null> {
  const { rows } = await db.query<Row>(
    locked(`where pipeline_id = $1 and attempt = $2`),
    [pipelineId, attempt],
    "ops_deployment_lock_by_attempt",
  );
  return rows[0] ? toDeployment(rows[0]) : null;
}

export async function lockById(db: Sql, id: number): Promise<Deployment | null> {
  const { rows } = await db.query<Row>(locked(`where id = $1`), [id], "ops_deployment_lock_by_id");
  return rows[0] ? toDeployment(rows[0]) : null;
}

/** The (latest) deployment ops knows as `deployId`, locked. */
export async function lockByDeployId(db: Sql, deployId: string): Promise<Deployment | null> {
  const { rows } = await db.query<Row>(
    locked(`where deploy_id = $1 order by id desc limit 1`),
    [deployId],
    "ops_deployment_lock_by_deploy_id",
  );
  return rows[0] ? toDeployment(rows[0]) : null;
}

/** Whether a create call is on its way to ops (a leased CREATING deployment without a deployId). */
export async function createInFlight(db: Sql): Promise<boolean> {
  const { rows } = await db.query<{ busy: boolean }>(
    `select exists (select 1 from ${T} where status = 'CREATING' and deploy_id is null
         and lease_until > now()) as busy`,
    [],
  );
  return rows[0]?.busy === true;
}

/** Highest attempt recorded for a pipeline (0 when none). */
export async function latestAttempt(db: Sql, pipelineId: number): Promise<number> {
  const { rows } = await db.query<{ n: number | null }>(
    `select max(attempt) as n from ${T} where pipeline_id = $1`,
    [pipelineId],
    "ops_deployment_latest_attempt",
  );
  return Number(rows[0]?.n ?? 0);
}

/** Ends the still-active deployments of older attempts of a pipeline; returns them. */
export async function supersedeOlder(db: Sql, pipelineId: number, attempt: number): Promise<Deployment[]> {
  const { rows } = await db.query<Row>(
    `update ${T} set status = 'SUPERSEDED', next_poll_at = null, finished_at = now(), updated_at = now()
       where pipeline_id = $1 and attempt < $2 and status in ('CREATING', 'DEPLOYING')
       returning ${ROW}`,
    [pipelineId, attempt],
    "ops_deployment_supersede_older",
  );
  return rows.map(toDeployment);
}

/**
 * A prepared statement's name for each text of `update` and `writeAlong` (one per set of fields and
 * parts taken along; these come from the code, so there are a few): numbered, as PostgreSQL cuts
 * names at 63 characters.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `ops_deployment_write_${statementNames.size + 1}`));
  return name;
}

/**
 * What a transaction's statement takes along: data-modifying `with` parts, their parameters
 * numbered from `$first` on, or null when there is nothing to take. The outbox's `takeOutboxInsert`
 * is one; the stage log's lines are two parts.
 */
export type Along = (first: number) => WithPart | readonly WithPart[] | null;

/**
 * Writes `patch`, and in the same statement what goes `along` (outbox rows, observations): one round
 * trip for the whole change. A patch with nothing to write takes nothing along.
 */
export async function update(
  db: Sql,
  id: number,
  patch: DeploymentPatch,
  along: Along[] = [],
): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (!updatable.has(key)) throw new Error(`not an updatable field: ${key}`);
    const column = FIELDS[key as keyof typeof FIELDS];
    params.push(column === "last_event_data" && value !== null ? JSON.stringify(value) : value);
    sets.push(`${column} = $${params.length}${column === "last_event_data" ? "::jsonb" : ""}`);
  }
  if (!sets.length) return;
  params.push(id);
  const text = `${withParts(params, along)}update ${T} set ${sets.join(", ")}, updated_at = now() where id = $${sets.length + 1}`;
  await db.query(text, params, statementName(text));
}

/** Writes what goes `along` (log lines, outbox rows, observations) in one statement of its own. */
export async function writeAlong(db: Sql, along: Along[]): Promise<void> {
  const params: unknown[] = [];
  const parts = withParts(params, along);
  if (!parts) return;
  const text = `${parts}select 1`;
  await db.query(text, params, statementName(text));
}

/**
 * The `with` clause of what goes `along` a statement whose own parameters are `params` (each part
 * numbers its parameters from where the ones before it end, and adds them to `params`); empty when
 * nothing does.
 */
function withParts(params: unknown[], along: Along[]): string {
  const parts: string[] = [];
  for (const take of along) {
    const taken = take(params.length + 1);
    for (const part of taken === null ? [] : "text" in taken ? [taken] : taken) {
      parts.push(`w${parts.length} as (${part.text})`);
      params.push(...part.params);
    }
  }
  return parts.length ? `with ${parts.join(", ")} ` : "";
}

/**
 * Takes up to `limit` deployments that are due and not leased by a live replica (an expired lease
 * is taken over), leasing them to `owner` for `leaseMs`. SKIP LOCKED: replicas claiming at the
 * same moment never take the same row.
 */
export function claimDue(db: Sql, owner: string, limit: number, leaseMs: number): Promise<Deployment[]> {
  return leases
    .claimDue<Row>(db, {
      due: `next_poll_at <= now() and ${leases.free}`,
      orderBy: "next_poll_at",
      limit,
      ms: leaseMs,
      owner,
    })
    .then((rows) => rows.map(toDeployment));
}

/** Drops every lease `owner` holds (a replica restarted under the same fixed name). */
export function releaseLeasesOf(db: Sql, owner: string): Promise<number> {
  return leases.giveBackAll(db, owner);
}

/** What the ops module said about a deployment, as `deployment_observation` keeps it. */
export interface Observation {
  deploymentId: number;
  deployId: string;
  attempt: number;
  source: "POLL" | "CALLBACK" | "CANCEL" | "CREATE";
  opsStatus: string | null;
  message: string | null;
  reportedAt: string | null;
  effect: "APPLIED" | "RECORDED";
  observer: string;
}

/** The insert of `list`, its parameters numbered from `$first`. */
export function observationInsert(list: Observation[], first: number): WithPart {
  const params: unknown[] = [];
  const rows = list.map((o) => {
    const at = first + params.length;
    params.push(
      o.deploymentId,
      o.deployId,
      o.attempt,
      o.source,
      o.opsStatus,
      o.message === null ? null : o.message.slice(0, 5000),
      o.reportedAt,
      o.effect,
      o.observer,
    );
    return `(${Array.from({ length: 9 }, (_, i) => `$${at + i}`).join(", ")})`;
  });
  return {
    text: `insert into ${OBS} (deployment_id, deploy_id, attempt, source, ops_status, message, reported_at, effect, observer)
       values ${rows.join(", ")}`,
    params,
  };
}

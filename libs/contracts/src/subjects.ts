/**
 * The only place NATS subject and stream names are written (STYLE.md). Every subject starts with the
 * installation's environment name, so two installations can share one NATS cluster.
 *
 * Message subjects are `<env>.<type>` where a message type is `<stream>.<name>.v<major>`, e.g.
 * `procode.app.created.v1`; per-stage commands add the stage: `procode.stage.requested.v1.CODE_CHECK`.
 * Request/reply subjects live under `<env>.rpc.` and are not captured by any stream.
 */

/** JetStream streams, one per publishing domain; the value is the subject segment after the env. */
export const STREAMS = {
  APP: "app",
  DEV: "dev",
  PIPELINE: "pipeline",
  STAGE: "stage",
  OPS: "ops",
  /** Live events for people (`GET /events`): per team, kept an hour. */
  LIVE: "live",
} as const;
export type StreamKey = keyof typeof STREAMS;

const HOUR_MS = 3600 * 1000;

/**
 * How long each stream keeps its messages: a week for the services' events and commands (a consumer
 * down for days still catches up), an hour for live events (a client reconnecting within the hour
 * misses nothing; older ones reload).
 */
export const STREAM_MAX_AGE_MS: Record<StreamKey, number> = {
  APP: 168 * HOUR_MS,
  DEV: 168 * HOUR_MS,
  PIPELINE: 168 * HOUR_MS,
  STAGE: 168 * HOUR_MS,
  OPS: 168 * HOUR_MS,
  LIVE: HOUR_MS,
};

export const ENV_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,30}$/;

function checkEnv(env: string): string {
  if (!ENV_NAME_PATTERN.test(env)) throw new Error(`invalid environment name "${env}": ${ENV_NAME_PATTERN}`);
  return env;
}

/** `procode` + `APP` -> `PROCODE_APP`. */
export function streamName(env: string, key: StreamKey): string {
  return `${checkEnv(env).toUpperCase().replace(/-/g, "_")}_${key}`;
}

/** The subjects a stream captures. */
export function streamSubjects(env: string, key: StreamKey): string[] {
  return [`${checkEnv(env)}.${STREAMS[key]}.>`];
}

/** Subject of a message type, with an optional last token (the stage, for per-stage commands). */
export function messageSubject(env: string, type: string, suffix?: string): string {
  return suffix ? `${checkEnv(env)}.${type}.${suffix}` : `${checkEnv(env)}.${type}`;
}

/** Which stream a message type belongs to (its first segment). */
export function streamOfType(type: string): StreamKey {
  const seg = type.split(".")[0];
  const entry = Object.entries(STREAMS).find(([, v]) => v === seg);
  if (!entry) throw new Error(`message type "${type}" does not start with a stream segment`);
  return entry[0] as StreamKey;
}

/**
 * A team as one subject token: base64url of its name (a team may hold characters a subject cannot,
 * such as `.`, `*`, `>` or spaces; base64url has none of them).
 */
export function liveTeamToken(team: string): string {
  return Buffer.from(team, "utf8").toString("base64url");
}

/**
 * The subjects of one team's live events (`<env>.live.<name>.v<N>.<team token>`), of one event name
 * or of all of them.
 */
export function liveTeamFilter(env: string, team: string, name?: string): string {
  return `${checkEnv(env)}.${STREAMS.LIVE}.${name ?? "*"}.*.${liveTeamToken(team)}`;
}

/** Request/reply subjects (core NATS, queue groups). */
export const RPC = {
  /** dev-svc -> pipeline-engine: move an iteration to a phase; for RELEASE also create the phase pipeline. */
  PROCEED_ITERATION: "rpc.pipeline.proceed_iteration.v1",
  /** app-svc -> dev-svc: whether a credentialId names a credential of the caller's team for a provider. */
  CHECK_CREDENTIAL: "rpc.dev.check_credential.v1",
  /** pipeline-engine -> dev-svc: the log lines of a pipeline's CODE_CHECK, BUILD and PACKAGE attempts. */
  READ_DEV_STAGE_LOGS: "rpc.dev.read_stage_logs.v1",
  /** pipeline-engine -> ops-gateway: the log lines of a pipeline's DEPLOY attempts. */
  READ_OPS_STAGE_LOGS: "rpc.ops.read_stage_logs.v1",
} as const;
export type RpcName = (typeof RPC)[keyof typeof RPC];

export function rpcSubject(env: string, name: RpcName): string {
  return `${checkEnv(env)}.${name}`;
}

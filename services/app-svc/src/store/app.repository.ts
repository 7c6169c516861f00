import type { Sql } from "@procode/service-kit";
import type {
  ConcurrencyPolicy,
  DeployConfig,
  DevMode,
  GitType,
  IterationPhases,
  PhaseStageConfigOverrides,
  TechStack,
} from "@procode/contracts";
import type { AppState, ProcodeSettings, ProcodeState } from "../domain/app.js";

/**
 * The `app.agent_app` and `app.procode_config` tables (with the owning team, the event
 * revision, the provider and credential binding, the sealed webhook secret and the pipeline
 * settings). Every read is scoped to the caller's team. Like every repository of the platform, each
 * function runs on the `Sql` it is given: the pool, or a transaction's connection.
 */

const APP = "app.agent_app";
const CONFIG = "app.procode_config";

interface AppRow {
  id: string;
  name: string;
  dev_mode: DevMode;
  tech_stack: TechStack | null;
  team: string;
  created_by: string;
  revision: number;
  created_at: string;
  updated_at: string;
}

interface ConfigRow {
  app_id: string;
  git_repo_url: string;
  git_type: GitType;
  scaffold_template: string | null;
  credential_id: string | null;
  credential_required: boolean;
  webhook_secret: string;
  webhook_secret_key_id: string;
  stage_configs: PhaseStageConfigOverrides;
  phases: IterationPhases;
  concurrency: ConcurrencyPolicy;
  deploy_config: DeployConfig;
  updated_at: string;
}

const toApp = (r: AppRow): AppState => ({
  id: Number(r.id),
  name: r.name,
  devMode: r.dev_mode,
  techStack: r.tech_stack,
  team: r.team,
  createdBy: r.created_by,
  revision: r.revision,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toConfig = (r: ConfigRow): ProcodeState => ({
  appId: Number(r.app_id),
  gitRepoUrl: r.git_repo_url,
  gitType: r.git_type,
  scaffoldTemplate: r.scaffold_template,
  credentialId: r.credential_id,
  credentialRequired: r.credential_required,
  webhookSecret: { keyId: r.webhook_secret_key_id, ciphertext: r.webhook_secret },
  stageConfigs: r.stage_configs,
  phases: r.phases,
  concurrency: r.concurrency,
  deployConfig: r.deploy_config,
  updatedAt: new Date(r.updated_at),
});

export interface AppWithConfig {
  app: AppState;
  config: ProcodeState | null;
}

/** `%`, `_` and the escape character itself match literally in a LIKE pattern. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The app of `team` with its configuration; `lock` holds the app's row for the transaction. */
export async function findAppForTeam(
  sql: Sql,
  id: number,
  team: string,
  opts: { lock?: boolean } = {},
): Promise<AppWithConfig | null> {
  const { rows } = await sql.query<AppRow>(
    `select * from ${APP} where id = $1 and team = $2${opts.lock ? " for update" : ""}`,
    [id, team],
  );
  if (!rows[0]) return null;
  const configs = await sql.query<ConfigRow>(`select * from ${CONFIG} where app_id = $1`, [id]);
  return { app: toApp(rows[0]), config: configs.rows[0] ? toConfig(configs.rows[0]) : null };
}

/** A page of the team's apps, newest first, with the total. */
export async function listApps(
  sql: Sql,
  q: {
    team: string;
    devMode?: DevMode | undefined;
    name?: string | undefined;
    page: number;
    pageSize: number;
  },
): Promise<{ items: AppWithConfig[]; total: number }> {
  const where = ["team = $1"];
  const params: unknown[] = [q.team];
  if (q.devMode) {
    params.push(q.devMode);
    where.push(`dev_mode = $${params.length}`);
  }
  if (q.name) {
    params.push(`%${likeLiteral(q.name)}%`);
    where.push(`name ilike $${params.length}`);
  }
  const filter = where.join(" and ");
  const [page, count] = await Promise.all([
    sql.query<AppRow>(
      `select * from ${APP} where ${filter} order by id desc limit $${params.length + 1} offset $${params.length + 2}`,
      [...params, q.pageSize, (q.page - 1) * q.pageSize],
    ),
    sql.query<{ n: string }>(`select count(*) as n from ${APP} where ${filter}`, params),
  ]);
  const apps = page.rows.map(toApp);
  const configs = apps.length
    ? await sql.query<ConfigRow>(`select * from ${CONFIG} where app_id = any($1::bigint[])`, [
        apps.map((a) => a.id),
      ])
    : { rows: [] };
  const byApp = new Map(configs.rows.map((c) => [Number(c.app_id), toConfig(c)]));
  return {
    items: apps.map((app) => ({ app, config: byApp.get(app.id) ?? null })),
    total: Number(count.rows[0]?.n ?? 0),
  };
}

export interface NewApp {
  name: string;
  devMode: DevMode;
  techStack: TechStack | null;
  team: string;
  createdBy: string;
}

/** A new app at revision 1; the name's uniqueness within the team is the database's to decide (uk_name). */
export async function insertApp(sql: Sql, a: NewApp): Promise<AppState> {
  const { rows } = await sql.query<AppRow>(
    `insert into ${APP} (name, dev_mode, tech_stack, team, created_by, revision) values ($1, $2, $3, $4, $5, 1)
     returning *`,
    [a.name, a.devMode, a.techStack, a.team, a.createdBy],
  );
  return toApp(rows[0]!);
}

const SETTINGS = [
  "git_repo_url",
  "git_type",
  "scaffold_template",
  "credential_id",
  "credential_required",
  "webhook_secret",
  "webhook_secret_key_id",
  "stage_configs",
  "phases",
  "concurrency",
  "deploy_config",
] as const;

/** The columns' values of `s`, in the order of SETTINGS. */
const settingValues = (s: ProcodeSettings): unknown[] => [
  s.gitRepoUrl,
  s.gitType,
  s.scaffoldTemplate,
  s.credentialId,
  s.credentialRequired,
  s.webhookSecret.ciphertext,
  s.webhookSecret.keyId,
  JSON.stringify(s.stageConfigs),
  JSON.stringify(s.phases),
  s.concurrency,
  JSON.stringify(s.deployConfig),
];

/** Writes the app's configuration: a new row, or every setting of the existing one. */
export async function saveConfig(sql: Sql, appId: number, s: ProcodeSettings): Promise<ProcodeState> {
  const values = SETTINGS.map((_, i) => `$${i + 2}`).join(", ");
  const updates = SETTINGS.map((c) => `${c} = excluded.${c}`).join(", ");
  const { rows } = await sql.query<ConfigRow>(
    `insert into ${CONFIG} (app_id, ${SETTINGS.join(", ")}) values ($1, ${values})
     on conflict (app_id) do update set ${updates}, updated_at = now()
     returning *`,
    [appId, ...settingValues(s)],
  );
  return toConfig(rows[0]!);
}

/** The app's next revision (every change its events report); returns the app as it is now. */
export async function bumpRevision(sql: Sql, appId: number): Promise<AppState> {
  const { rows } = await sql.query<AppRow>(
    `update ${APP} set revision = revision + 1, updated_at = now() where id = $1 returning *`,
    [appId],
  );
  return toApp(rows[0]!);
}

import {
  ConcurrencyPolicy,
  DeployConfig,
  IterationPhases,
  PhaseStageConfigOverrides,
  type AppSnapshot,
} from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { pgArray, S } from "./pipeline-row.js";

/**
 * The app settings the engine keeps from app-svc's events (`pipeline.app_settings`): stage
 * overrides, phases, concurrency policy, deploy config and team, newest revision first.
 */

export interface AppSettings {
  appId: number;
  team: string;
  revision: number;
  stageConfigs: PhaseStageConfigOverrides;
  phases: IterationPhases | null;
  concurrency: ConcurrencyPolicy;
  deployConfig: DeployConfig | null;
}

/** What reading app settings needs: a transaction's Sql or the read pool. */
type SettingsReader = { query<T extends object>(text: string, params: unknown[]): Promise<{ rows: T[] }> };

/** Keeps the newest revision of an app's settings; false when a newer one is already there. */
export async function upsertAppSettings(db: Sql, app: AppSnapshot): Promise<boolean> {
  const { rows } = await db.query<unknown>(
    `insert into ${S}.app_settings (app_id, team, revision, stage_configs, phases, concurrency, deploy_config, updated_at)
     values ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7::jsonb, now())
     on conflict (app_id) do update set team = excluded.team, revision = excluded.revision,
       stage_configs = excluded.stage_configs, phases = excluded.phases, concurrency = excluded.concurrency,
       deploy_config = excluded.deploy_config, updated_at = now()
     where ${S}.app_settings.revision < excluded.revision
     returning app_id`,
    [
      app.appId,
      app.team,
      app.revision,
      JSON.stringify(app.procode?.stageConfigs ?? {}),
      app.procode ? JSON.stringify(app.procode.phases) : null,
      app.procode?.concurrency ?? "QUEUE",
      app.procode ? JSON.stringify(app.procode.deployConfig) : null,
    ],
    // Named: PostgreSQL then plans it once per connection, not for every app event.
    "pipeline-app-settings-upsert",
  );
  return rows.length === 1;
}

export async function readAppSettings(
  db: SettingsReader,
  appIds: readonly number[],
): Promise<Map<number, AppSettings>> {
  if (!appIds.length) return new Map();
  const { rows } = await db.query<{
    app_id: string;
    team: string;
    revision: number;
    stage_configs: unknown;
    phases: unknown;
    concurrency: string;
    deploy_config: unknown;
  }>(`select * from ${S}.app_settings where app_id = any($1::bigint[])`, [pgArray(appIds)]);
  return new Map(
    rows.map((r) => [
      Number(r.app_id),
      {
        appId: Number(r.app_id),
        team: r.team,
        revision: r.revision,
        stageConfigs: PhaseStageConfigOverrides.parse(r.stage_configs ?? {}),
        phases: r.phases ? IterationPhases.parse(r.phases) : null,
        concurrency: ConcurrencyPolicy.parse(r.concurrency),
        deployConfig: r.deploy_config ? DeployConfig.parse(r.deploy_config) : null,
      },
    ]),
  );
}

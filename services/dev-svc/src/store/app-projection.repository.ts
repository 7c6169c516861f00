import type { AppSnapshot } from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { S } from "./sql.js";

/** dev-svc's copy of an app, from app-svc's events (newest revision wins). */
export interface AppProjection {
  appId: number;
  team: string;
  name: string;
  devMode: AppSnapshot["devMode"];
  techStack: string | null;
  revision: number;
  /** The pro-code settings without the webhook secret (kept sealed on git_repo only). */
  procode: Omit<NonNullable<AppSnapshot["procode"]>, "webhookSecret"> | null;
  createdBy: string;
}

interface Row {
  app_id: string;
  team: string;
  name: string;
  dev_mode: AppSnapshot["devMode"];
  tech_stack: string | null;
  revision: number;
  procode: AppProjection["procode"];
  created_by: string;
}

const toProjection = (r: Row): AppProjection => ({
  appId: Number(r.app_id),
  team: r.team,
  name: r.name,
  devMode: r.dev_mode,
  techStack: r.tech_stack,
  revision: r.revision,
  procode: r.procode,
  createdBy: r.created_by,
});

/** Stores the snapshot when it is newer than what is stored; true when it was applied. */
export async function upsertIfNewer(db: Sql, snap: AppSnapshot): Promise<boolean> {
  let procode: AppProjection["procode"] = null;
  if (snap.procode) {
    const { webhookSecret: _secret, ...rest } = snap.procode;
    procode = rest;
  }
  const row =
    (
      await db.query<{ app_id: string }>(
        `insert into ${S}.app_projection (app_id, team, name, dev_mode, tech_stack, revision, procode, created_by, app_updated_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
     on conflict (app_id) do update set
       team = excluded.team, name = excluded.name, dev_mode = excluded.dev_mode, tech_stack = excluded.tech_stack,
       revision = excluded.revision, procode = excluded.procode, created_by = excluded.created_by,
       app_updated_at = excluded.app_updated_at, projected_at = now()
     where ${S}.app_projection.revision < excluded.revision
     returning app_id`,
        [
          snap.appId,
          snap.team,
          snap.name,
          snap.devMode,
          snap.techStack,
          snap.revision,
          JSON.stringify(procode),
          snap.createdBy,
          snap.updatedAt,
        ],
      )
    ).rows[0] ?? null;
  return row !== null;
}

export async function findApp(db: Sql, appId: number): Promise<AppProjection | null> {
  const r =
    (await db.query<Row>(`select * from ${S}.app_projection where app_id = $1`, [appId])).rows[0] ?? null;
  return r ? toProjection(r) : null;
}

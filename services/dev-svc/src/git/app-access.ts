import type { Actor } from "@procode/contracts";
import { DomainError, type Sql } from "@procode/service-kit";
import { findApp, type AppProjection } from "../store/app-projection.repository.js";

/**
 * The caller's app, or 404: an app of another team answers exactly like one that does not exist,
 * so nothing leaks about it.
 */
export async function requireTeamApp(sql: Sql, actor: Actor, appId: number): Promise<AppProjection> {
  const app = await findApp(sql, appId);
  if (!app || app.team !== actor.team) throw new DomainError("APP_NOT_FOUND", `app ${appId} not found`);
  return app;
}

import { LockMode, ServerException, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@procode/service-kit";
import type { DevMode } from "@procode/contracts";
import { AgentApp, ProcodeConfigRow } from "./entities.js";

/** `%`, `_` and the escape character itself match literally in a LIKE pattern. */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** True when `err` is the unique violation of `constraint` (e.g. uk_name). */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  return (
    err instanceof UniqueConstraintViolationException &&
    (err as unknown as { constraint?: string }).constraint === constraint
  );
}

export interface AppWithConfig {
  app: AgentApp;
  config: ProcodeConfigRow | null;
}

/** Queries of the app schema; every read is scoped to the caller's team. */
export class AppRepository {
  constructor(private readonly em: EntityManager) {}

  async findForTeam(id: number, team: string, opts: { lock?: boolean } = {}): Promise<AppWithConfig | null> {
    const app = await this.em.findOne(
      AgentApp,
      { id, team },
      opts.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    if (!app) return null;
    const config = await this.em.findOne(ProcodeConfigRow, { appId: app.id });
    return { app, config };
  }

  async list(q: {
    team: string;
    devMode?: DevMode | undefined;
    name?: string | undefined;
    page: number;
    pageSize: number;
  }): Promise<{ items: AppWithConfig[]; total: number }> {
    const where = {
      team: q.team,
      ...(q.devMode ? { devMode: q.devMode } : {}),
      ...(q.name ? { name: { $ilike: `%${likeLiteral(q.name)}%` } } : {}),
    };
    const [apps, total] = await this.em.findAndCount(AgentApp, where, {
      orderBy: { id: "desc" },
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    const configs = apps.length
      ? await this.em.find(ProcodeConfigRow, { appId: { $in: apps.map((a) => a.id) } })
      : [];
    const byApp = new Map(configs.map((c) => [c.appId, c]));
    return { items: apps.map((app) => ({ app, config: byApp.get(app.id) ?? null })), total };
  }
}

/** True when the database answered with an error (a constraint, a bad query): it is there. */
export function isDatabaseRefusal(err: unknown): boolean {
  return err instanceof ServerException;
}

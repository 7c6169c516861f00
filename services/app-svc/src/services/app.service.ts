import {
  AppChanged,
  AppCreated,
  DEFAULT_DEPLOY_CONFIG,
  DEFAULT_ITERATION_PHASES,
  ProcodeConfigChanged,
  type Actor,
  type App,
  type CreateAppRequest,
  type ListAppsQuery,
  type Page,
  type GitType,
  type ProcodeConfig,
  type PutProcodeConfigRequest,
  type SealedSecret,
} from "@procode/contracts";
import {
  DomainError,
  invalidParameter,
  isUniqueViolation,
  randomSecret,
  type Database,
  type KeyRing,
  type Logger,
  type Outbox,
  type OutboxContext,
  type RecordAnswer,
} from "@procode/service-kit";
import {
  appNameProblem,
  applyProcodeChange,
  changedSettings,
  type ChangeableSettings,
  toAppView,
  toProcodeConfigView,
  toSnapshot,
  type AppState,
  type ProcodeSettings,
} from "../domain/app.js";
import {
  classifyRepositoryUrl,
  webhookUrlFor,
  type Problem,
  type RepositoryTarget,
} from "../domain/repository-url.js";
import type { CredentialCheck } from "../integrations/credential-check.js";
import type { RepositoryProbe } from "../integrations/repository-probe.js";
import { withDatabase } from "./database.js";
import {
  bumpRevision,
  findAppForTeam,
  insertApp,
  listApps,
  saveConfig,
  type AppWithConfig,
} from "../store/app.repository.js";

export interface AppServiceDeps {
  db: Database;
  outbox: Outbox;
  log: Logger;
  /** Seals webhook secrets (the same ring dev-svc opens them with). */
  keyRing: KeyRing;
  probe: RepositoryProbe;
  /** Whether a credentialId is the team's, for the repository's provider (dev-svc owns credentials). */
  checkCredential: CredentialCheck;
  publicBaseUrl: string;
  localEnabled: boolean;
}

function refuse(problem: Problem): DomainError {
  if (problem.kind === "INVALID_PARAMETER") return invalidParameter(problem.field, problem.rule);
  return new DomainError(problem.kind, `${problem.field}: ${problem.rule}`, {
    fields: [{ field: problem.field, message: problem.rule }],
  });
}

const notFound = (id: number) => new DomainError("APP_NOT_FOUND", `app ${id} not found`);

/** Fields only a pro-code app can carry (a low-code app given one is told so, not silently ignored). */
const PROCODE_ONLY = ["gitRepoUrl", "scaffoldTemplate", "gitType", "credentialId"] as const;

/**
 * Agent apps and their pro-code configuration. Validation and the
 * repository probe happen before the transaction; the name's uniqueness within the team is the
 * database's to decide (uk_name on team and name); every change is written with its event in one
 * transaction (outbox).
 */
export class AppService {
  constructor(private readonly deps: AppServiceDeps) {}

  private withDatabase<T>(fn: () => Promise<T>): Promise<T> {
    return withDatabase(this.deps.db, fn);
  }

  private webhookUrl(config: { gitType: GitType }, appId: number): string {
    return webhookUrlFor(this.deps.publicBaseUrl, config.gitType, appId);
  }

  private view({ app, config }: AppWithConfig): App {
    return toAppView(app, config, config ? this.webhookUrl(config, app.id) : null);
  }

  /** Classifies a repository URL before any I/O; a refusal throws 1001 naming the field. */
  private classify(gitRepoUrl: string, gitType: GitType | undefined): RepositoryTarget {
    const ruling = classifyRepositoryUrl(gitRepoUrl, gitType, { localEnabled: this.deps.localEnabled });
    if (!ruling.ok) throw refuse(ruling.problem);
    return ruling.value;
  }

  /** Probes the repository for the team; unreachable is 1003 naming the reason. Gives credentialRequired. */
  private async probe(target: RepositoryTarget, team: string): Promise<boolean> {
    const result = await this.deps.probe.probe(target, team);
    if (!result.reachable) {
      throw refuse({
        kind: "GIT_REPO_UNREACHABLE",
        field: "gitRepoUrl",
        rule: `git repository not reachable: ${result.reason}`,
      });
    }
    return result.credentialRequired;
  }

  /** A credentialId that is not the team's for this provider is 1001 now, not a stuck binding later. */
  private async requireCredential(
    actor: Actor,
    credentialId: string,
    gitType: GitType,
    correlationId: string,
  ): Promise<void> {
    const problem = await this.deps.checkCredential(
      { team: actor.team, credentialId, gitType },
      correlationId,
    );
    if (problem) throw invalidParameter("credentialId", problem);
  }

  /**
   * `record` stores the answer with the app, in its transaction (an Idempotency-Key's
   * first answer: the kit's Idempotency).
   */
  async create(
    actor: Actor,
    body: CreateAppRequest,
    correlationId: string,
    record: RecordAnswer = async () => {},
  ): Promise<App> {
    const nameProblem = appNameProblem(body.name);
    if (nameProblem) throw invalidParameter("name", nameProblem);
    let repository: { target: RepositoryTarget; credentialRequired: boolean } | null = null;
    if (body.devMode === "pro-code") {
      // The schema already requires techStack and gitRepoUrl for pro-code apps.
      const target = this.classify(body.gitRepoUrl!, body.gitType);
      if (body.credentialId)
        await this.requireCredential(actor, body.credentialId, target.gitType, correlationId);
      repository = { target, credentialRequired: await this.probe(target, actor.team) };
    } else {
      const given = PROCODE_ONLY.find((field) => body[field] !== undefined);
      if (given)
        throw invalidParameter(given, "only pro-code apps have a repository; set devMode to pro-code");
    }

    try {
      const created = await this.withDatabase(() =>
        this.deps.outbox.sqlTransaction(correlationId, async (tx) => {
          const app = await insertApp(tx.sql, {
            name: body.name,
            devMode: body.devMode,
            techStack: body.techStack ?? null,
            team: actor.team,
            createdBy: actor.sub,
          });
          const config = repository
            ? await saveConfig(tx.sql, app.id, {
                ...defaultSettings(),
                gitRepoUrl: repository.target.url,
                gitType: repository.target.gitType,
                scaffoldTemplate: body.scaffoldTemplate ?? null,
                credentialId: body.credentialId ?? null,
                credentialRequired: repository.credentialRequired,
                webhookSecret: this.deps.keyRing.seal(randomSecret(32)),
              })
            : null;
          tx.emit(AppCreated, toSnapshot(app, config, config ? this.webhookUrl(config, app.id) : null));
          emitAppChanged(tx, app);
          await record(tx.sql, this.view({ app, config }));
          return { app, config };
        }),
      );
      this.deps.log.info(
        { correlationId, appId: created.app.id, team: actor.team, devMode: body.devMode },
        "app created",
      );
      return this.view(created);
    } catch (err) {
      if (isUniqueViolation(err, "uk_name")) {
        throw new DomainError("APP_NAME_TAKEN", `name: your team already has an app named "${body.name}"`, {
          fields: [{ field: "name", message: "already exists in the team" }],
        });
      }
      throw err;
    }
  }

  async list(actor: Actor, query: ListAppsQuery): Promise<Page<App>> {
    const { items, total } = await this.withDatabase(() =>
      listApps(this.deps.db.sql, { ...query, team: actor.team }),
    );
    return { items: items.map((i) => this.view(i)), total, page: query.page, pageSize: query.pageSize };
  }

  /** Another team's app answers exactly as a missing one. */
  async get(actor: Actor, id: number): Promise<App> {
    const found = await this.withDatabase(() => findAppForTeam(this.deps.db.sql, id, actor.team));
    if (!found) throw notFound(id);
    return this.view(found);
  }

  /**
   * Fields left out keep their value (a seed-shaped body does not reset the pipeline
   * settings); the repository is probed again only when its URL changes; the webhook secret is kept.
   * A body that changes nothing changes nothing: no revision, no event.
   */
  async putProcodeConfig(
    actor: Actor,
    id: number,
    body: PutProcodeConfigRequest,
    correlationId: string,
  ): Promise<ProcodeConfig> {
    const found = await this.withDatabase(() => findAppForTeam(this.deps.db.sql, id, actor.team));
    if (!found) throw notFound(id);
    assertProCode(found.app);

    const current = found.config;
    // Fields left out keep their value, the repository's URL too.
    const gitRepoUrl = body.gitRepoUrl ?? current?.gitRepoUrl;
    if (gitRepoUrl === undefined)
      throw invalidParameter("gitRepoUrl", "is required: the app has no repository yet");
    const target = this.classify(gitRepoUrl, body.gitType);
    const urlUnchanged = current !== null && target.url === current.gitRepoUrl;
    const gitType = urlUnchanged && body.gitType === undefined ? current.gitType : target.gitType;

    const change = applyProcodeChange(current ?? defaultSettings(), body, gitType);
    if (!change.ok) {
      throw new DomainError(
        "INVALID_PARAMETER",
        change.problems.map((p) => `${p.field}: ${p.message}`).join("; "),
        {
          fields: change.problems,
        },
      );
    }
    if (body.credentialId) await this.requireCredential(actor, body.credentialId, gitType, correlationId);
    // Same repository: its recorded probe result stands, and so does a gitType given earlier for it.
    const credentialRequired = urlUnchanged
      ? current.credentialRequired
      : await this.probe(target, actor.team);
    const next: Omit<ProcodeSettings, "webhookSecret"> = {
      ...change.value,
      gitRepoUrl: target.url,
      gitType,
      credentialRequired,
    };

    const result = await this.withDatabase(() =>
      this.deps.outbox.sqlTransaction(correlationId, async (tx) => {
        const locked = await findAppForTeam(tx.sql, id, actor.team, { lock: true });
        if (!locked) throw notFound(id);
        assertProCode(locked.app);
        let changes = Object.keys(next);
        let webhookSecret: SealedSecret;
        if (locked.config) {
          changes = changedSettings(locked.config, { ...next, webhookSecret: locked.config.webhookSecret });
          if (changes.length === 0) return { config: locked.config, changes };
          webhookSecret = this.deps.keyRing.reseal(locked.config.webhookSecret);
        } else {
          webhookSecret = this.deps.keyRing.seal(randomSecret(32));
        }
        const config = await saveConfig(tx.sql, locked.app.id, { ...next, webhookSecret });
        const app = await bumpRevision(tx.sql, locked.app.id);
        tx.emit(ProcodeConfigChanged, toSnapshot(app, config, this.webhookUrl(config, app.id)));
        emitAppChanged(tx, app);
        return { config, changes };
      }),
    );

    if (result.changes.length) {
      this.deps.log.info(
        { correlationId, appId: id, changed: result.changes },
        "pro-code configuration changed",
      );
    }
    return toProcodeConfigView(result.config, this.webhookUrl(result.config, id));
  }
}

/** The live event `live.app.v1` (docs/api.md "Live events"): the app as it now stands, to its team. */
function emitAppChanged(tx: Pick<OutboxContext, "emit">, app: AppState): void {
  tx.emit(
    AppChanged,
    { appId: app.id, name: app.name, devMode: app.devMode, revision: app.revision },
    { team: app.team },
  );
}

function assertProCode(app: AppState): void {
  if (app.devMode !== "pro-code") {
    throw invalidParameter(
      "devMode",
      `app ${app.id} is a ${app.devMode} app; only pro-code apps have a pro-code configuration`,
    );
  }
}

/** Settings of a pro-code app that has none recorded yet (seed defaults). */
function defaultSettings(): ChangeableSettings {
  return {
    scaffoldTemplate: null,
    credentialId: null,
    stageConfigs: {},
    phases: [...DEFAULT_ITERATION_PHASES],
    concurrency: "QUEUE",
    deployConfig: structuredClone(DEFAULT_DEPLOY_CONFIG),
  };
}

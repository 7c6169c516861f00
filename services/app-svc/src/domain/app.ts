import {
  DeployConfig as DeployConfigSchema,
  needsCredential,
  phaseOverrideProblems,
  PhaseStageConfigOverrides as PhaseStageConfigOverridesSchema,
  resolvePhaseStageConfigs,
  type App,
  type AppSnapshot,
  type ConcurrencyPolicy,
  type DeployConfig,
  type DevMode,
  type GitType,
  type IterationPhases,
  type PhaseStageConfigOverrides,
  type ProcodeConfig,
  type ProcodeSnapshot,
  type PutProcodeConfigRequest,
  type SealedSecret,
  type TechStack,
} from "@procode/contracts";

/** An app as stored (agent_app with its team, author and revision). */
export interface AppState {
  id: number;
  name: string;
  devMode: DevMode;
  techStack: TechStack | null;
  team: string;
  createdBy: string;
  /** Grows with every change the app's events report (AppSnapshot.revision). */
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A pro-code app's configuration as stored (procode_config with the app's pipeline settings). */
export interface ProcodeState {
  appId: number;
  gitRepoUrl: string;
  gitType: GitType;
  scaffoldTemplate: string | null;
  credentialId: string | null;
  credentialRequired: boolean;
  webhookSecret: SealedSecret;
  stageConfigs: PhaseStageConfigOverrides;
  phases: IterationPhases;
  concurrency: ConcurrencyPolicy;
  deployConfig: DeployConfig;
  updatedAt: Date;
}

/** The configuration fields a change can touch (what an update compares and writes). */
export type ProcodeSettings = Omit<ProcodeState, "appId" | "updatedAt">;

export function toProcodeConfigView(config: ProcodeState, webhookUrl: string): ProcodeConfig {
  return {
    appId: config.appId,
    gitRepoUrl: config.gitRepoUrl,
    gitType: config.gitType,
    scaffoldTemplate: config.scaffoldTemplate,
    credentialId: config.credentialId,
    credentialRequired: config.credentialRequired,
    webhookUrl,
    stageConfigs: config.stageConfigs,
    effectiveStageConfigs: resolvePhaseStageConfigs(config.stageConfigs),
    phases: config.phases,
    concurrency: config.concurrency,
    deployConfig: config.deployConfig,
    updatedAt: config.updatedAt.toISOString(),
  };
}

export function toAppView(app: AppState, config: ProcodeState | null, webhookUrl: string | null): App {
  return {
    id: app.id,
    name: app.name,
    devMode: app.devMode,
    techStack: app.techStack,
    team: app.team,
    createdBy: app.createdBy,
    procodeConfig: config && webhookUrl ? toProcodeConfigView(config, webhookUrl) : null,
    createdAt: app.createdAt.toISOString(),
    updatedAt: app.updatedAt.toISOString(),
  };
}

/** What app events carry: the app after the change, with its sealed webhook secret. */
export function toSnapshot(
  app: AppState,
  config: ProcodeState | null,
  webhookUrl: string | null,
): AppSnapshot {
  const procode: ProcodeSnapshot | null =
    config && webhookUrl
      ? {
          gitRepoUrl: config.gitRepoUrl,
          gitType: config.gitType,
          credentialId: config.credentialId,
          scaffoldTemplate: config.scaffoldTemplate,
          webhookUrl,
          webhookSecret: config.webhookSecret,
          credentialRequired: config.credentialRequired,
          stageConfigs: config.stageConfigs,
          phases: config.phases,
          concurrency: config.concurrency,
          deployConfig: config.deployConfig,
        }
      : null;
  return {
    appId: app.id,
    team: app.team,
    name: app.name,
    devMode: app.devMode,
    techStack: app.techStack,
    revision: app.revision,
    procode,
    createdBy: app.createdBy,
    updatedAt: app.updatedAt.toISOString(),
  };
}

/** Deep equality of plain JSON values, key order ignored. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * The fields of `next` that differ from `current`. The webhook secret is not compared: an update
 * keeps it (no silent rotation), so re-sealing it under a newer key is not a change.
 */
export function changedSettings(current: ProcodeSettings, next: ProcodeSettings): (keyof ProcodeSettings)[] {
  const keys: (keyof ProcodeSettings)[] = [
    "gitRepoUrl",
    "gitType",
    "scaffoldTemplate",
    "credentialId",
    "credentialRequired",
    "stageConfigs",
    "phases",
    "concurrency",
    "deployConfig",
  ];
  return keys.filter((k) => !sameJson(current[k], next[k]));
}

/** Control characters (C0, DEL, C1) in a name would garble lists, terminals and logs. */
export function appNameProblem(name: string): string | null {
  for (const ch of name) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return "must not contain control characters";
  }
  return null;
}

type JsonObject = { [key: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * JSON Merge Patch (RFC 7396): a key left out of the patch keeps its value, null removes it, an
 * object is merged key by key, anything else replaces. Objects left empty by removals are dropped,
 * so a stage whose every override was removed has no entry.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
      continue;
    }
    const merged = mergePatch(out[key], value);
    if (isObject(merged) && Object.keys(merged).length === 0 && isObject(value)) delete out[key];
    else out[key] = merged;
  }
  return out;
}

/** The settings a `PUT /apps/{id}/procode-config` sets from its body (the repository aside). */
export type ChangeableSettings = Pick<
  ProcodeSettings,
  "scaffoldTemplate" | "credentialId" | "stageConfigs" | "phases" | "concurrency" | "deployConfig"
>;
export type FieldProblem = { field: string; message: string };

/**
 * The settings after a change (docs/api.md "Updates keep what is left out"): a field left out keeps
 * its value; stageConfigs and deployConfig are merged field by field (null returns a setting to its
 * default); a credential is needed where the repository needs one.
 */
export function applyProcodeChange(
  base: ChangeableSettings,
  body: PutProcodeConfigRequest,
  gitType: GitType,
): { ok: true; value: ChangeableSettings } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const stageConfigs =
    body.stageConfigs === undefined
      ? base.stageConfigs
      : PhaseStageConfigOverridesSchema.parse(
          body.stageConfigs === null ? {} : mergePatch(base.stageConfigs, body.stageConfigs),
        );
  for (const p of phaseOverrideProblems(stageConfigs)) {
    const at = p.indexOf(": ");
    problems.push({ field: p.slice(0, at), message: p.slice(at + 2) });
  }
  const credentialId = body.credentialId === undefined ? base.credentialId : body.credentialId;
  if (!credentialId && needsCredential(gitType)) {
    problems.push({
      field: "credentialId",
      message: `is required for a ${gitType} repository (create one with POST /credentials)`,
    });
  }
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    value: {
      scaffoldTemplate: body.scaffoldTemplate === undefined ? base.scaffoldTemplate : body.scaffoldTemplate,
      credentialId,
      stageConfigs,
      phases: body.phases ?? base.phases,
      concurrency: body.concurrency ?? base.concurrency,
      deployConfig:
        body.deployConfig === undefined
          ? base.deployConfig
          : DeployConfigSchema.parse(mergePatch(base.deployConfig, body.deployConfig)),
    },
  };
}

import { z } from "zod";
import { DriveMode, IterationPhase, PhaseStage, RetryMode } from "./enums.js";
import { GateFile } from "./quality.js";

/** An OpenAI-compatible base URL (http or https) of the judge llm-rubric cases ask. */
const JudgeUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .meta({ description: "QUALITY_GATE: the judge of llm-rubric assertions (an OpenAI-compatible base URL)" });

/**
 * One stage's configuration (drive mode, retry mode and budget; stored as JSON on the pipeline).
 * pollInterval / pollTimeout are seconds and only meaningful for ASYNC stages.
 */
export const StageConfig = z
  .object({
    driveMode: DriveMode.meta({
      description:
        "AUTO: success moves on at once; MANUAL: waits for proceed; ASYNC: finished by an outside system",
    }),
    retryMode: RetryMode.meta({
      description: "AUTO: the engine retries a failure; MANUAL: it waits for a person",
    }),
    maxRetries: z.number().int().min(0).max(20).meta({ description: "Retries of a failed attempt" }),
    pollInterval: z.number().int().min(1).max(3600).optional().meta({ description: "Seconds (ASYNC)" }),
    pollTimeout: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional()
      .meta({ description: "Seconds before an ASYNC stage times out" }),
    enabled: z.boolean().optional().meta({
      description:
        "QUALITY_GATE only: true runs it, false never; left out, it runs when the release commit has evals/*.jsonl",
    }),
    gate: GateFile.optional().meta({
      description: "QUALITY_GATE only: the gate's rules, under those of the repository's evals/gate.json",
    }),
    judgeUrl: JudgeUrl.optional(),
  })
  .meta({
    id: "StageConfig",
    description: "How one stage runs (its StageConfig)",
    examples: [
      { driveMode: "ASYNC", retryMode: "MANUAL", maxRetries: 0, pollInterval: 30, pollTimeout: 1800 },
    ],
  });
export type StageConfig = z.infer<typeof StageConfig>;

/** A partial override of one stage's configuration (per app, per pipeline). */
export const StageConfigOverride = StageConfig.partial()
  .strict()
  .meta({ id: "StageConfigOverride", description: "Fields of a StageConfig set for one stage" });
export type StageConfigOverride = z.infer<typeof StageConfigOverride>;

export const IterationStageConfigs = z.record(IterationPhase, StageConfig);
export type IterationStageConfigs = Record<IterationPhase, StageConfig>;

export const PhaseStageConfigs = z
  .object({
    CODE_CHECK: StageConfig,
    BUILD: StageConfig,
    PACKAGE: StageConfig,
    QUALITY_GATE: StageConfig,
    DEPLOY: StageConfig,
  })
  .meta({ id: "PhaseStageConfigs", description: "Every stage of a phase pipeline with its configuration" });
export type PhaseStageConfigs = z.infer<typeof PhaseStageConfigs>;

/** Overrides of the phase pipeline's stages, e.g. `{ "PACKAGE": { "driveMode": "MANUAL" } }`. */
export const PhaseStageConfigOverrides = z.partialRecord(PhaseStage, StageConfigOverride).meta({
  id: "PhaseStageConfigOverrides",
  description: "An app's settings per stage, over the defaults",
  examples: [{ PACKAGE: { driveMode: "MANUAL" } }],
});
export type PhaseStageConfigOverrides = z.infer<typeof PhaseStageConfigOverrides>;

/**
 * A change to one stage's settings (`PUT /apps/{id}/procode-config`): a field left out keeps its
 * value, null returns it to the default (JSON Merge Patch).
 */
export const StageConfigPatch = z
  .object({
    driveMode: DriveMode.nullable().optional(),
    retryMode: RetryMode.nullable().optional(),
    maxRetries: z.number().int().min(0).max(20).nullable().optional(),
    pollInterval: z.number().int().min(1).max(3600).nullable().optional(),
    pollTimeout: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .nullable()
      .optional(),
    enabled: z.boolean().nullable().optional(),
    gate: GateFile.nullable().optional(),
    judgeUrl: JudgeUrl.nullable().optional(),
  })
  .strict()
  .meta({
    id: "StageConfigPatch",
    description:
      "Settings of one stage to change; a field left out keeps its value, null returns it to the default",
    examples: [{ driveMode: "MANUAL" }, { maxRetries: null }],
  });
export type StageConfigPatch = z.infer<typeof StageConfigPatch>;

/** Changes per stage; a stage set to null returns all its settings to the defaults. */
export const PhaseStageConfigPatch = z.partialRecord(PhaseStage, StageConfigPatch.nullable()).meta({
  id: "PhaseStageConfigPatch",
  description:
    "Per stage, the settings to change (merged field by field); a stage set to null returns to the defaults",
  examples: [{ PACKAGE: { driveMode: "MANUAL" } }, { BUILD: null }],
});
export type PhaseStageConfigPatch = z.infer<typeof PhaseStageConfigPatch>;

/** Every iteration phase is MANUAL. */
export const ITERATION_STAGE_DEFAULTS: IterationStageConfigs = {
  DEVELOPING: { driveMode: "MANUAL", retryMode: "MANUAL", maxRetries: 0 },
  TESTING: { driveMode: "MANUAL", retryMode: "MANUAL", maxRetries: 0 },
  STAGING: { driveMode: "MANUAL", retryMode: "MANUAL", maxRetries: 0 },
  RELEASE: { driveMode: "MANUAL", retryMode: "MANUAL", maxRetries: 0 },
};

/** The phase pipeline's stage defaults. */
export const PHASE_STAGE_DEFAULTS: PhaseStageConfigs = {
  CODE_CHECK: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 3 },
  BUILD: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 2 },
  PACKAGE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
  QUALITY_GATE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
  DEPLOY: { driveMode: "ASYNC", retryMode: "MANUAL", maxRetries: 0, pollInterval: 30, pollTimeout: 1800 },
};

/**
 * The effective phase stage configs: seed defaults, then each layer of overrides in order
 * (app settings, then per-pipeline). Only DEPLOY may be ASYNC and it must stay ASYNC, since its work
 * is finished by the ops module's outcome.
 */
export function resolvePhaseStageConfigs(
  ...layers: (PhaseStageConfigOverrides | undefined)[]
): PhaseStageConfigs {
  const out: PhaseStageConfigs = structuredClone(PHASE_STAGE_DEFAULTS);
  for (const layer of layers) {
    if (!layer) continue;
    for (const stage of PhaseStage.options) {
      const o = layer[stage];
      if (o) out[stage] = { ...out[stage], ...o };
    }
  }
  return PhaseStageConfigs.parse(out);
}

/** Rules an override must follow, as messages naming the field (empty when valid). */
export function phaseOverrideProblems(overrides: PhaseStageConfigOverrides): string[] {
  const problems: string[] = [];
  for (const [stage, o] of Object.entries(overrides)) {
    if (stage !== "QUALITY_GATE") {
      for (const field of ["enabled", "gate", "judgeUrl"] as const) {
        if (o?.[field] !== undefined) {
          problems.push(`stageConfigs.${stage}.${field}: only QUALITY_GATE has ${field}`);
        }
      }
    }
    if (!o?.driveMode) continue;
    if (stage === "DEPLOY" && o.driveMode !== "ASYNC") {
      problems.push(
        `stageConfigs.DEPLOY.driveMode: DEPLOY is finished by the ops module and must stay ASYNC`,
      );
    }
    if (stage !== "DEPLOY" && o.driveMode === "ASYNC") {
      problems.push(`stageConfigs.${stage}.driveMode: only DEPLOY can be ASYNC`);
    }
  }
  return problems;
}

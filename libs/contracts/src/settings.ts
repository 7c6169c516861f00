import { z } from "zod";
import { ITERATION_PHASE_ORDER, IterationPhase, type IterationPhase as Phase } from "./enums.js";

/**
 * The iteration phases an app uses, in order. DEVELOPING is always the first phase (the iteration
 * pipeline starts there) and RELEASE always the last; TESTING and STAGING are optional.
 * `["RELEASE"]` is the seed's phase-1 mode; the default is all four.
 */
export const IterationPhases = z
  .array(IterationPhase)
  .min(1)
  .max(4)
  .superRefine((phases, ctx) => {
    if (new Set(phases).size !== phases.length) {
      ctx.addIssue({ code: "custom", message: "phases must not repeat" });
    }
    if (!phases.includes("RELEASE")) ctx.addIssue({ code: "custom", message: "phases must include RELEASE" });
    const idx = phases.map((p) => ITERATION_PHASE_ORDER.indexOf(p));
    if (idx.some((v, i) => i > 0 && v < (idx[i - 1] ?? 0))) {
      ctx.addIssue({
        code: "custom",
        message: "phases must be in the order DEVELOPING, TESTING, STAGING, RELEASE",
      });
    }
  })
  .meta({
    id: "IterationPhases",
    description: "The iteration phases an app uses, in order; RELEASE is always there",
    examples: [["DEVELOPING", "TESTING", "STAGING", "RELEASE"], ["RELEASE"]],
  });
export type IterationPhases = Phase[];

export const DEFAULT_ITERATION_PHASES: IterationPhases = ["DEVELOPING", "TESTING", "STAGING", "RELEASE"];

/** The phases with DEVELOPING first, whatever was given. */
export function normalizePhases(phases: readonly Phase[] | undefined): IterationPhases {
  const set = new Set<Phase>(["DEVELOPING", ...(phases ?? DEFAULT_ITERATION_PHASES)]);
  return ITERATION_PHASE_ORDER.filter((p) => set.has(p));
}

/** The next phase after `current` in an app's phase list, or null at the end. */
export function nextPhase(phases: readonly Phase[], current: Phase): Phase | null {
  const list = normalizePhases(phases);
  const i = list.indexOf(current);
  return i >= 0 && i + 1 < list.length ? (list[i + 1] ?? null) : null;
}

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are letters, digits, _");
const CpuQuantity = z.string().regex(/^\d+(\.\d+)?m?$/, "cpu like 1, 0.5 or 500m");
const MemoryQuantity = z.string().regex(/^\d+(Ki|Mi|Gi|Ti)?$/, "memory like 512Mi or 2Gi");

/** What ops receives with a deployment (its `config`). */
export const DeployConfig = z
  .object({
    env: z.record(EnvName, z.string()).default({}),
    resources: z
      .object({
        cpu: CpuQuantity.default("1"),
        memory: MemoryQuantity.default("2Gi"),
      })
      .default({ cpu: "1", memory: "2Gi" }),
  })
  .meta({
    id: "DeployConfig",
    description: "What ops receives with a deployment (its config)",
    examples: [{ env: { KEY: "VALUE" }, resources: { cpu: "1", memory: "2Gi" } }],
  });
export type DeployConfig = z.infer<typeof DeployConfig>;

/** A change to the deploy config: fields (and env names) left out keep their value, null removes. */
export const DeployConfigPatch = z
  .object({
    env: z
      .record(EnvName, z.string().nullable())
      .optional()
      .meta({ description: "Variables to set; a variable set to null is removed" }),
    resources: z
      .object({
        cpu: CpuQuantity.nullable().optional(),
        memory: MemoryQuantity.nullable().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .meta({
    id: "DeployConfigPatch",
    description: "What to change in the deploy config; left out keeps, null returns to the default",
    examples: [{ env: { LOG_LEVEL: "debug" } }, { resources: { memory: "4Gi" } }],
  });
export type DeployConfigPatch = z.infer<typeof DeployConfigPatch>;

export const DEFAULT_DEPLOY_CONFIG: DeployConfig = { env: {}, resources: { cpu: "1", memory: "2Gi" } };

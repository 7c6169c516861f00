import { z } from "zod";
import { PhaseStage } from "../enums.js";
import { DateTime } from "../envelope.js";

/** How much text one stage attempt keeps (docs/api.md "Stage logs"); a cut line follows. */
export const STAGE_LOG_MAX_BYTES = 1024 * 1024;
/** Longest text of one line, in characters; a longer one is cut (it travels in a live event too). */
export const STAGE_LOG_LINE_MAX_CHARS = 16 * 1024;

export const StageLogLevel = z.enum(["INFO", "WARN", "ERROR"]).meta({ id: "StageLogLevel" });
export type StageLogLevel = z.infer<typeof StageLogLevel>;

/** One line of a stage attempt's log: what the runner did or what an outside system answered. */
export const StageLogLine = z
  .object({
    stage: PhaseStage,
    attempt: z.number().int().min(1).meta({ description: "The stage attempt (1 for the first)" }),
    seq: z.number().int().min(1).meta({ description: "Position in the attempt's log, from 1, without gaps" }),
    at: DateTime,
    level: StageLogLevel,
    text: z.string(),
  })
  .meta({
    id: "StageLogLine",
    description: "One line of a stage attempt's log",
    examples: [
      {
        stage: "CODE_CHECK",
        attempt: 1,
        seq: 1,
        at: "2026-02-27T10:00:00Z",
        level: "INFO",
        text: "resolving tag v1.0.0 in local://demo",
      },
    ],
  });
export type StageLogLine = z.infer<typeof StageLogLine>;

export const StageLogs = z
  .object({
    pipelineId: z.number().int(),
    lines: z
      .array(StageLogLine)
      .meta({ description: "In stage order (CODE_CHECK, BUILD, PACKAGE, DEPLOY), attempt, seq" }),
    truncated: z
      .boolean()
      .meta({ description: "An attempt among these reached 1 MiB of text: its last line says it was cut" }),
  })
  .meta({ id: "StageLogs", description: "The stage logs of a phase pipeline" });
export type StageLogs = z.infer<typeof StageLogs>;

export const PipelineLogsQuery = z
  .object({
    stage: PhaseStage.optional().meta({ description: "Only this stage's lines" }),
    attempt: z.coerce
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: "Only this attempt of `stage` (needs `stage`); every attempt without it" }),
  })
  .refine((q) => q.attempt === undefined || q.stage !== undefined, {
    message: "needs stage",
    path: ["attempt"],
  });
export type PipelineLogsQuery = z.infer<typeof PipelineLogsQuery>;

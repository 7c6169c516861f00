import { z } from "zod";
import { ConcurrencyPolicy, DevMode, GitType, TechStack } from "../enums.js";
import { PageQuery } from "../envelope.js";
import { DeployConfig, IterationPhases } from "../settings.js";
import { PhaseStageConfigOverrides, PhaseStageConfigs } from "../stage-config.js";

/** Scaffold templates known to the platform; a scaffoldTemplate must name one of them. */
export const SCAFFOLD_TEMPLATES = ["python-agent"] as const;
export const ScaffoldTemplateName = z.enum(SCAFFOLD_TEMPLATES);
export type ScaffoldTemplateName = z.infer<typeof ScaffoldTemplateName>;

/** Repository URL as given by a user: an absolute URL (https, http, or local:// for LOCAL repos). */
export const GitRepoUrl = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((v) => URL.canParse(v), {
    message: "must be a URL, e.g. https://gitlab.example.com/team/agent.git",
  });

/** Seed 3.1 body. gitType and credentialId are optional additions (detected / bound later when absent). */
export const CreateAppRequest = z
  .object({
    name: z.string().trim().min(1, "must be 1-100 characters").max(100, "must be 1-100 characters"),
    devMode: DevMode,
    techStack: TechStack.optional(),
    gitRepoUrl: GitRepoUrl.optional(),
    scaffoldTemplate: ScaffoldTemplateName.optional(),
    gitType: GitType.optional(),
    credentialId: z.string().trim().min(1).max(100).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.devMode !== "pro-code") return;
    if (!v.techStack)
      ctx.addIssue({ code: "custom", path: ["techStack"], message: "is required for pro-code apps" });
    if (!v.gitRepoUrl)
      ctx.addIssue({ code: "custom", path: ["gitRepoUrl"], message: "is required for pro-code apps" });
  });
export type CreateAppRequest = z.infer<typeof CreateAppRequest>;

/** The pro-code configuration as shown to callers (no secret). */
export const ProcodeConfig = z.object({
  appId: z.number().int(),
  gitRepoUrl: z.string(),
  gitType: GitType,
  scaffoldTemplate: z.string().nullable(),
  credentialId: z.string().nullable(),
  credentialRequired: z.boolean(),
  webhookUrl: z.string(),
  /** The app's overrides as given. */
  stageConfigs: PhaseStageConfigOverrides,
  /** The phase pipeline's configs after defaults and overrides. */
  effectiveStageConfigs: PhaseStageConfigs,
  phases: IterationPhases,
  concurrency: ConcurrencyPolicy,
  deployConfig: DeployConfig,
  updatedAt: z.string(),
});
export type ProcodeConfig = z.infer<typeof ProcodeConfig>;

/** Seed 3.1 response (id, name, devMode, techStack) and what a caller also needs to see. */
export const App = z.object({
  id: z.number().int(),
  name: z.string(),
  devMode: DevMode,
  techStack: TechStack.nullable(),
  team: z.string(),
  createdBy: z.string(),
  procodeConfig: ProcodeConfig.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type App = z.infer<typeof App>;

export const ListAppsQuery = PageQuery.extend({
  devMode: DevMode.optional(),
  /** Case-insensitive substring of the name. */
  name: z.string().trim().min(1).max(100).optional(),
});
export type ListAppsQuery = z.infer<typeof ListAppsQuery>;

/** Seed 3.2 body plus the per-app pipeline settings of SPEC 4. */
export const PutProcodeConfigRequest = z.object({
  gitRepoUrl: GitRepoUrl,
  scaffoldTemplate: ScaffoldTemplateName.nullable().optional(),
  credentialId: z.string().trim().min(1).max(100),
  gitType: GitType.optional(),
  stageConfigs: PhaseStageConfigOverrides.optional(),
  phases: IterationPhases.optional(),
  concurrency: ConcurrencyPolicy.optional(),
  deployConfig: DeployConfig.optional(),
});
export type PutProcodeConfigRequest = z.infer<typeof PutProcodeConfigRequest>;

/** Seed 3.2 response (appId, gitRepoUrl, webhookUrl) with the rest of the configuration. */
export const PutProcodeConfigResponse = ProcodeConfig;
export type PutProcodeConfigResponse = ProcodeConfig;

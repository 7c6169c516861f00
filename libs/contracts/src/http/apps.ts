import { z } from "zod";
import { ConcurrencyPolicy, DevMode, GitType, TechStack } from "../enums.js";
import { DateTime, PageQuery } from "../envelope.js";
import { DeployConfig, DeployConfigPatch, IterationPhases } from "../settings.js";
import { PhaseStageConfigOverrides, PhaseStageConfigPatch, PhaseStageConfigs } from "../stage-config.js";

/** Scaffold templates known to the platform; a scaffoldTemplate must name one of them. */
export const SCAFFOLD_TEMPLATES = ["python-agent"] as const;
export const ScaffoldTemplateName = z.enum(SCAFFOLD_TEMPLATES).meta({
  id: "ScaffoldTemplateName",
  description: "A scaffold template the platform pushes to an empty repository",
});
export type ScaffoldTemplateName = z.infer<typeof ScaffoldTemplateName>;

/** Repository URL as given by a user: an absolute URL (https, http, or local:// for LOCAL repos). */
export const GitRepoUrl = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((v) => URL.canParse(v), {
    message: "must be a URL, e.g. https://gitlab.example.com/team/agent.git",
  })
  .meta({
    format: "uri",
    description:
      "The repository: https (http where allowed) for GitLab, GitHub, Gitee; local://<name> for LOCAL",
    examples: ["https://gitlab.example.com/my-agent.git", "local://sample-agent"],
  });

/** The body of POST /apps. gitType and credentialId are optional additions (detected / bound later when absent). */
export const CreateAppRequest = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, "must be 1-100 characters")
      .max(100, "must be 1-100 characters")
      .meta({ description: "Unique within the team" }),
    devMode: DevMode,
    techStack: TechStack.optional().meta({ description: "Required for pro-code apps" }),
    gitRepoUrl: GitRepoUrl.optional().meta({ description: "Required for pro-code apps" }),
    scaffoldTemplate: ScaffoldTemplateName.optional(),
    gitType: GitType.optional().meta({ description: "Detected from the URL when left out" }),
    credentialId: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "A credential of the team (POST /credentials); can be set later" }),
  })
  .superRefine((v, ctx) => {
    if (v.devMode !== "pro-code") return;
    if (!v.techStack)
      ctx.addIssue({ code: "custom", path: ["techStack"], message: "is required for pro-code apps" });
    if (!v.gitRepoUrl)
      ctx.addIssue({ code: "custom", path: ["gitRepoUrl"], message: "is required for pro-code apps" });
  })
  .meta({
    id: "CreateAppRequest",
    description: "techStack and gitRepoUrl are required when devMode is pro-code",
    examples: [
      {
        name: "my-agent",
        devMode: "pro-code",
        techStack: "python",
        gitRepoUrl: "https://gitlab.example.com/my-agent.git",
      },
    ],
  });
export type CreateAppRequest = z.infer<typeof CreateAppRequest>;

/** The pro-code configuration as shown to callers (no secret). */
export const ProcodeConfig = z
  .object({
    appId: z.number().int(),
    gitRepoUrl: z.url(),
    gitType: GitType,
    scaffoldTemplate: z.string().nullable(),
    credentialId: z.string().nullable(),
    credentialRequired: z
      .boolean()
      .meta({ description: "Whether the repository refused anonymous reads when it was probed" }),
    webhookUrl: z
      .url()
      .meta({ description: "Where the provider sends pushes (POST /webhooks/{gitType}/{appId})" }),
    /** The app's overrides as given. */
    stageConfigs: PhaseStageConfigOverrides,
    /** The phase pipeline's configs after defaults and overrides. */
    effectiveStageConfigs: PhaseStageConfigs.meta({
      description: "The defaults with the app's settings applied",
    }),
    phases: IterationPhases,
    concurrency: ConcurrencyPolicy.meta({
      description: "What a second release of the app does while one runs",
    }),
    deployConfig: DeployConfig,
    updatedAt: DateTime,
  })
  .meta({
    id: "ProcodeConfig",
    description: "A pro-code app's repository and pipeline settings (never its webhook secret)",
    examples: [
      {
        appId: 123,
        gitRepoUrl: "https://gitlab.example.com/my-agent.git",
        gitType: "GITLAB",
        scaffoldTemplate: null,
        credentialId: "cred-1",
        credentialRequired: true,
        webhookUrl: "https://platform.example.com/webhooks/gitlab/123",
        stageConfigs: {},
        effectiveStageConfigs: {
          CODE_CHECK: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 3 },
          BUILD: { driveMode: "AUTO", retryMode: "AUTO", maxRetries: 2 },
          PACKAGE: { driveMode: "AUTO", retryMode: "MANUAL", maxRetries: 0 },
          DEPLOY: {
            driveMode: "ASYNC",
            retryMode: "MANUAL",
            maxRetries: 0,
            pollInterval: 30,
            pollTimeout: 1800,
          },
        },
        phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
        concurrency: "QUEUE",
        deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
        updatedAt: "2026-02-27T10:00:00Z",
      },
    ],
  });
export type ProcodeConfig = z.infer<typeof ProcodeConfig>;

/** The answer of POST /apps (id, name, devMode, techStack) and what a caller also needs to see. */
export const App = z
  .object({
    id: z.number().int(),
    name: z.string(),
    devMode: DevMode,
    techStack: TechStack.nullable(),
    team: z.string().meta({ description: "The team that owns the app (from the creator's token)" }),
    createdBy: z.string(),
    procodeConfig: ProcodeConfig.nullable().meta({ description: "null for low-code apps" }),
    createdAt: DateTime,
    updatedAt: DateTime,
  })
  .meta({
    id: "App",
    description: "An agent app",
    examples: [
      {
        id: 123,
        name: "my-agent",
        devMode: "pro-code",
        techStack: "python",
        team: "default",
        createdBy: "alice",
        procodeConfig: null,
        createdAt: "2026-02-27T10:00:00Z",
        updatedAt: "2026-02-27T10:00:00Z",
      },
    ],
  });
export type App = z.infer<typeof App>;

export const ListAppsQuery = PageQuery.extend({
  devMode: DevMode.optional().meta({ description: "Only apps of this mode" }),
  /** Case-insensitive substring of the name. */
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: "Only apps whose name contains this (case-insensitive)" }),
});
export type ListAppsQuery = z.infer<typeof ListAppsQuery>;

/**
 * The body of PUT /apps/{id}/procode-config plus the per-app pipeline settings, as a change: every field left out keeps
 * its value; `stageConfigs` and `deployConfig` are merged field by field (null returns a setting to
 * its default); credentialId is needed only where the repository needs one (not LOCAL).
 */
export const PutProcodeConfigRequest = z
  .object({
    gitRepoUrl: GitRepoUrl.optional().meta({ description: "Left out: the repository stays" }),
    scaffoldTemplate: ScaffoldTemplateName.nullable().optional(),
    credentialId: z.string().trim().min(1).max(100).nullable().optional().meta({
      description:
        "A credential of the team; required for GITLAB, GITHUB and GITEE repositories, not for LOCAL (null removes it there)",
    }),
    gitType: GitType.optional().meta({ description: "Detected from the URL when left out" }),
    stageConfigs: PhaseStageConfigPatch.nullable()
      .optional()
      .meta({ description: "Merged per stage and field; null returns every stage to the defaults" }),
    phases: IterationPhases.optional(),
    concurrency: ConcurrencyPolicy.optional(),
    deployConfig: DeployConfigPatch.optional(),
  })
  .meta({
    id: "PutProcodeConfigRequest",
    description: "What to change; every field left out keeps its value",
    examples: [
      { gitRepoUrl: "https://gitlab.example.com/my-agent.git", credentialId: "cred-1" },
      { stageConfigs: { PACKAGE: { driveMode: "MANUAL" } } },
    ],
  });
export type PutProcodeConfigRequest = z.infer<typeof PutProcodeConfigRequest>;

/** The answer of PUT /apps/{id}/procode-config (appId, gitRepoUrl, webhookUrl) with the rest of the configuration. */
export const PutProcodeConfigResponse = ProcodeConfig;
export type PutProcodeConfigResponse = ProcodeConfig;

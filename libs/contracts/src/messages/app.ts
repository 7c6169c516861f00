import { z } from "zod";
import { ConcurrencyPolicy, DevMode, GitType, TechStack } from "../enums.js";
import { defineMessage, SealedSecret } from "../message.js";
import { DeployConfig, IterationPhases } from "../settings.js";
import { PhaseStageConfigOverrides } from "../stage-config.js";

/** An app's pro-code settings as carried in app events (everything dev-svc and the engine need). */
export const ProcodeSnapshot = z.object({
  gitRepoUrl: z.string(),
  gitType: GitType,
  credentialId: z.string().nullable(),
  scaffoldTemplate: z.string().nullable(),
  webhookUrl: z.string(),
  /** The webhook secret, sealed with the platform key ring; dev-svc unseals it to install/verify hooks. */
  webhookSecret: SealedSecret,
  /** The reachability probe was answered with "authentication required". */
  credentialRequired: z.boolean(),
  stageConfigs: PhaseStageConfigOverrides,
  phases: IterationPhases,
  concurrency: ConcurrencyPolicy,
  deployConfig: DeployConfig,
});
export type ProcodeSnapshot = z.infer<typeof ProcodeSnapshot>;

/**
 * The state of an app after a change. `revision` grows with every change of the app, so a consumer
 * keeps the newest snapshot whatever order they arrive in.
 */
export const AppSnapshot = z.object({
  appId: z.number().int().positive(),
  team: z.string(),
  name: z.string(),
  devMode: DevMode,
  techStack: TechStack.nullable(),
  revision: z.number().int().min(1),
  procode: ProcodeSnapshot.nullable(),
  createdBy: z.string(),
  updatedAt: z.string(),
});
export type AppSnapshot = z.infer<typeof AppSnapshot>;

export const AppCreated = defineMessage({
  type: "app.created.v1",
  kind: "event",
  data: AppSnapshot,
  publisher: "app-svc",
  consumers: ["dev-svc", "pipeline-engine"],
  description:
    "An app was created. dev-svc projects it (iteration checks, repository binding, scaffold push); the engine keeps its pipeline settings.",
});

export const ProcodeConfigChanged = defineMessage({
  type: "app.procode_config_changed.v1",
  kind: "event",
  data: AppSnapshot,
  publisher: "app-svc",
  consumers: ["dev-svc", "pipeline-engine"],
  description:
    "An app's pro-code configuration changed (repository, credential, webhook secret, stage settings, phases). dev-svc re-binds the repository; the engine uses the settings for new pipelines.",
});

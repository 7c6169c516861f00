import { defineEntity, type InferEntity } from "@mikro-orm/core";
import {
  type ConcurrencyPolicy,
  type DeployConfig,
  type DevMode,
  type GitType,
  type IterationPhases,
  type PhaseStageConfigOverrides,
  type TechStack,
} from "@procode/contracts";

/** Seed 4.1 agent_app, plus the owning team, the author and the revision of the app's events. */
export const AgentApp = defineEntity({
  name: "AgentApp",
  tableName: "agent_app",
  properties: (p) => ({
    id: p.bigint("number").primary().autoincrement(),
    name: p.string().length(100),
    devMode: p.string().length(20).$type<DevMode>(),
    techStack: p.string().length(50).$type<TechStack>().nullable(),
    team: p.string().length(100),
    createdBy: p.string().length(200),
    revision: p.integer().default(1),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .defaultRaw("now()"),
    // A new row's updatedAt is its createdAt (the same instant, not a second clock reading).
    updatedAt: p
      .datetime()
      .onCreate((row) => row.createdAt ?? new Date())
      .onUpdate(() => new Date())
      .defaultRaw("now()"),
  }),
});
export type AgentApp = InferEntity<typeof AgentApp>;

/**
 * Seed 4.1 procode_config, plus the provider, credential binding, the sealed webhook secret and the
 * app's pipeline settings (SPEC 4).
 */
export const ProcodeConfigRow = defineEntity({
  name: "ProcodeConfigRow",
  tableName: "procode_config",
  properties: (p) => ({
    id: p.bigint("number").primary().autoincrement(),
    appId: p.bigint("number"),
    gitRepoUrl: p.string().length(500),
    gitType: p.string().length(20).$type<GitType>(),
    scaffoldTemplate: p.string().length(100).nullable(),
    credentialId: p.string().length(100).nullable(),
    credentialRequired: p.boolean().default(false),
    /** AES-256-GCM ciphertext of the webhook secret (seed column), sealed under webhookSecretKeyId. */
    webhookSecret: p.text(),
    webhookSecretKeyId: p.string().length(50),
    stageConfigs: p.json<PhaseStageConfigOverrides>(),
    phases: p.json<IterationPhases>(),
    concurrency: p.string().length(20).$type<ConcurrencyPolicy>(),
    deployConfig: p.json<DeployConfig>(),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .defaultRaw("now()"),
    // A new row's updatedAt is its createdAt (the same instant, not a second clock reading).
    updatedAt: p
      .datetime()
      .onCreate((row) => row.createdAt ?? new Date())
      .onUpdate(() => new Date())
      .defaultRaw("now()"),
  }),
});
export type ProcodeConfigRow = InferEntity<typeof ProcodeConfigRow>;

export const entities = [AgentApp, ProcodeConfigRow];

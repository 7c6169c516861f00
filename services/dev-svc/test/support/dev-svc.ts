import { randomBytes, randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import {
  AppCreated,
  messageSubject,
  ProcodeConfigChanged,
  type AppSnapshot,
  type GitType,
  type ProcodeSnapshot,
} from "@procode/contracts";
import { KeyRing, Outbox, signToken, startRuntime, type ServiceRuntime } from "@procode/service-kit";
import { serviceEnv, type TestInfra } from "@procode/test-kit";
import type { Config } from "../../src/config.js";
import { service } from "../../src/app.js";

export type DevSvc = ServiceRuntime<Config>;

/** dev-svc in-process on the test's database and NATS prefix, tuned for fast tests. */
export async function startDevSvc(
  infra: TestInfra,
  encryptionKeys: string,
  extra: Record<string, string> = {},
  logDestination?: Writable,
  listen = false,
): Promise<DevSvc> {
  return startRuntime(service, {
    listen,
    env: serviceEnv(infra, {
      ENCRYPTION_KEYS: encryptionKeys,
      GIT_ALLOW_HTTP: "true",
      GIT_ALLOWED_HOSTS: "127.0.0.1",
      GIT_RETRY_BASE_MS: "20",
      GIT_TIMEOUT_MS: "5000",
      BIND_POLL_MS: "100",
      BIND_RETRY_BASE_MS: "200",
      BIND_RETRY_MAX_MS: "1000",
      WEBHOOK_POLL_MS: "100",
      ...extra,
    }),
    ...(logDestination ? { logDestination } : {}),
  });
}

export const newKeys = (id = "k1") => KeyRing.generateSpec(id);

export async function bearer(infra: TestInfra, team = "team-a", sub = "alice"): Promise<string> {
  return `Bearer ${await signToken({ sub, team }, infra.jwtSecret)}`;
}

export interface AppSpec {
  appId: number;
  team?: string;
  revision?: number;
  gitType: GitType;
  gitRepoUrl: string;
  credentialId?: string | null;
  webhookUrl: string;
  /** The webhook secret in clear; sealed here as app-svc seals it. */
  webhookSecret: string;
  scaffoldTemplate?: string | null;
  devMode?: "pro-code" | "low-code";
}

/** An app snapshot as app-svc publishes it, the webhook secret sealed with the shared key ring. */
export function appSnapshot(keys: string, spec: AppSpec): AppSnapshot {
  const ring = new KeyRing(keys);
  const procode: ProcodeSnapshot = {
    gitRepoUrl: spec.gitRepoUrl,
    gitType: spec.gitType,
    credentialId: spec.credentialId ?? null,
    scaffoldTemplate: spec.scaffoldTemplate ?? null,
    webhookUrl: spec.webhookUrl,
    webhookSecret: ring.seal(spec.webhookSecret),
    credentialRequired: spec.gitType !== "LOCAL",
    stageConfigs: {},
    phases: ["DEVELOPING", "TESTING", "STAGING", "RELEASE"],
    concurrency: "QUEUE",
    deployConfig: { env: {}, resources: { cpu: "1", memory: "2Gi" } },
  };
  const devMode = spec.devMode ?? "pro-code";
  return {
    appId: spec.appId,
    team: spec.team ?? "team-a",
    name: `app-${spec.appId}`,
    devMode,
    techStack: devMode === "pro-code" ? "python" : null,
    revision: spec.revision ?? 1,
    procode: devMode === "pro-code" ? procode : null,
    createdBy: "alice",
    updatedAt: new Date().toISOString(),
  };
}

/** Publishes an app event on JetStream as app-svc's outbox relay does (through dev-svc's connection). */
export async function publishAppEvent(
  svc: DevSvc,
  kind: "created" | "changed",
  snap: AppSnapshot,
  opts: { messageId?: string } = {},
): Promise<string> {
  const def = kind === "created" ? AppCreated : ProcodeConfigChanged;
  const message = Outbox.envelope(
    def,
    snap,
    `test-${randomUUID()}`,
    (opts.messageId ?? randomUUID()) as `${string}-${string}-${string}-${string}-${string}`,
  );
  await svc.deps.nats.js.publish(messageSubject(svc.deps.nats.env, def.type), JSON.stringify(message), {
    msgID: randomUUID(),
  });
  return message.id;
}

let nextApp = Math.floor(Math.random() * 1e6) + 1000;
export const newAppId = () => nextApp++;

export const randomSecret = () => randomBytes(24).toString("base64url");

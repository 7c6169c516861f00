import { z } from "zod";
import { GitType, RepoBindingState, ScaffoldState } from "../enums.js";

/** `POST /credentials` body. The token is write-only: never returned, logged or echoed. */
export const CreateCredentialRequest = z.object({
  gitType: GitType,
  name: z.string().trim().min(1).max(100),
  token: z.string().min(1).max(4096),
  username: z.string().trim().min(1).max(200).optional(),
});
export type CreateCredentialRequest = z.infer<typeof CreateCredentialRequest>;

export const Credential = z.object({
  id: z.string(),
  gitType: GitType,
  name: z.string(),
  username: z.string().nullable(),
  keyId: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Credential = z.infer<typeof Credential>;

export const CredentialIdParam = z.object({ id: z.string().min(1).max(100) });

/** `GET /apps/{id}/repo`: the git_repo row (seed 4.1) and the state of its binding. */
export const RepoBinding = z.object({
  appId: z.number().int(),
  externalGitUrl: z.string(),
  gitType: GitType,
  credentialId: z.string().nullable(),
  webhookUrl: z.string().nullable(),
  webhookId: z.string().nullable(),
  state: RepoBindingState,
  lastError: z.string().nullable(),
  scaffold: z.object({ state: ScaffoldState, message: z.string().nullable() }),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RepoBinding = z.infer<typeof RepoBinding>;

export const GitRef = z.object({ name: z.string(), commitId: z.string() });
export type GitRef = z.infer<typeof GitRef>;

/** Branches or tags, from the provider or, when it is down, from the cache (stale, seed 6.1). */
export const GitRefList = z.object({
  items: z.array(GitRef),
  stale: z.boolean(),
  fetchedAt: z.string(),
  message: z.string().nullable(),
});
export type GitRefList = z.infer<typeof GitRefList>;

export const WebIdeQuery = z.object({ branch: z.string().trim().min(1).max(100).optional() });

/** `GET /apps/{id}/webide`; when the WebIDE is not there, the clone URL and a hint (seed 6.1). */
export const WebIdeLink = z.object({
  available: z.boolean(),
  url: z.string().nullable(),
  cloneUrl: z.string(),
  branch: z.string(),
  hint: z.string().nullable(),
});
export type WebIdeLink = z.infer<typeof WebIdeLink>;

export const WebhookParams = z.object({
  gitType: z.enum(["gitlab", "github", "gitee", "local"]),
  appId: z.coerce.number().int().positive(),
});

export const WebhookAck = z.object({
  deliveryId: z.string(),
  duplicate: z.boolean(),
});
export type WebhookAck = z.infer<typeof WebhookAck>;

/** `DELETE /credentials/{id}` response. */
export const DeletedCredential = z.object({ id: z.string() });
export type DeletedCredential = z.infer<typeof DeletedCredential>;

/** What happened to a webhook delivery: queued, acted on, not a push, failed to process, or refused. */
export const WebhookDeliveryStatus = z.enum(["RECEIVED", "PROCESSED", "IGNORED", "FAILED", "REJECTED"]);
export type WebhookDeliveryStatus = z.infer<typeof WebhookDeliveryStatus>;

/** `GET /apps/{id}/repo/webhook-deliveries`: the latest deliveries (never a secret or a signature). */
export const WebhookDelivery = z.object({
  deliveryId: z.string(),
  gitType: GitType,
  event: z.string().nullable(),
  status: WebhookDeliveryStatus,
  reason: z.string().nullable(),
  receivedAt: z.string(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

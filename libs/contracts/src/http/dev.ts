import { z } from "zod";
import { GitType, RepoBindingState, ScaffoldState } from "../enums.js";
import { DateTime } from "../envelope.js";

/** `POST /credentials` body. The token is write-only: never returned, logged or echoed. */
export const CreateCredentialRequest = z
  .object({
    gitType: GitType,
    name: z.string().trim().min(1).max(100).meta({ description: "A name to recognise it by" }),
    token: z
      .string()
      .min(1)
      .max(4096)
      .meta({ description: "The provider's access token; write-only", writeOnly: true }),
    username: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: "The user name, where the provider needs one" }),
  })
  .meta({
    id: "CreateCredentialRequest",
    description: "A git credential; the token is sealed (AES-256-GCM) and never returned",
    examples: [{ gitType: "GITLAB", name: "ci", token: "glpat-xxxxxxxxxxxxxxxxxxxx" }],
  });
export type CreateCredentialRequest = z.infer<typeof CreateCredentialRequest>;

export const Credential = z
  .object({
    id: z.string(),
    gitType: GitType,
    name: z.string(),
    username: z.string().nullable(),
    keyId: z.string().meta({ description: "The encryption key the token is sealed under" }),
    createdBy: z.string(),
    createdAt: DateTime,
  })
  .meta({
    id: "Credential",
    description: "A git credential's metadata (never its token)",
    examples: [
      {
        id: "cred-1",
        gitType: "GITLAB",
        name: "ci",
        username: null,
        keyId: "k1",
        createdBy: "alice",
        createdAt: "2026-02-27T10:00:00Z",
      },
    ],
  });
export type Credential = z.infer<typeof Credential>;

export const CredentialIdParam = z.object({
  id: z.string().min(1).max(100).meta({ description: "The credential's id" }),
});

/** `GET /apps/{id}/repo`: the git_repo row and the state of its binding. */
export const RepoBinding = z
  .object({
    appId: z.number().int(),
    externalGitUrl: z.url(),
    gitType: GitType,
    credentialId: z.string().nullable(),
    webhookUrl: z.url().nullable(),
    webhookId: z.string().nullable().meta({ description: "The provider's id of the installed webhook" }),
    state: RepoBindingState,
    lastError: z.string().nullable(),
    scaffold: z
      .object({ state: ScaffoldState, message: z.string().nullable() })
      .meta({ description: "The scaffold push, for apps created with a scaffoldTemplate" }),
    createdAt: DateTime,
    updatedAt: DateTime,
  })
  .meta({
    id: "RepoBinding",
    description: "An app's repository and the state of its binding (webhook, scaffold)",
  });
export type RepoBinding = z.infer<typeof RepoBinding>;

export const GitRef = z
  .object({ name: z.string(), commitId: z.string() })
  .meta({ id: "GitRef", description: "A branch or tag and its commit" });
export type GitRef = z.infer<typeof GitRef>;

/** Branches or tags, from the provider or, when it is down, from the cache (stale). */
export const GitRefList = z
  .object({
    items: z.array(GitRef),
    stale: z.boolean().meta({ description: "true: the provider is down and this is the cached copy" }),
    fetchedAt: DateTime,
    message: z.string().nullable().meta({ description: "What to do when stale (retry later)" }),
  })
  .meta({
    id: "GitRefList",
    description: "Branches or tags, live or from the cache when the provider is down",
  });
export type GitRefList = z.infer<typeof GitRefList>;

export const WebIdeQuery = z.object({
  branch: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: "The branch to open (the default branch when left out)" }),
});

/** `GET /apps/{id}/webide`; when the WebIDE is not there, the clone URL and a hint. */
export const WebIdeLink = z
  .object({
    available: z.boolean(),
    url: z.url().nullable().meta({ description: "The WebIDE link; null when the WebIDE is not available" }),
    cloneUrl: z.string(),
    branch: z.string(),
    hint: z.string().nullable().meta({ description: "How to work locally when the WebIDE is not there" }),
  })
  .meta({ id: "WebIdeLink", description: "A WebIDE link, or the clone URL and a local-IDE hint" });
export type WebIdeLink = z.infer<typeof WebIdeLink>;

export const WebhookParams = z.object({
  gitType: z
    .enum(["gitlab", "github", "gitee", "local"])
    .meta({ description: "The provider, as in the app's webhookUrl" }),
  appId: z.coerce.number().int().positive().meta({ description: "The app the webhook was installed for" }),
});

export const WebhookAck = z
  .object({
    deliveryId: z.string(),
    duplicate: z.boolean().meta({ description: "true: this delivery was received before and is ignored" }),
  })
  .meta({ id: "WebhookAck", description: "A delivery stored for processing" });
export type WebhookAck = z.infer<typeof WebhookAck>;

/** `DELETE /credentials/{id}` response. */
export const DeletedCredential = z
  .object({ id: z.string() })
  .meta({ id: "DeletedCredential", description: "The credential deleted" });
export type DeletedCredential = z.infer<typeof DeletedCredential>;

/** What happened to a webhook delivery: queued, acted on, not a push, failed to process, or refused. */
export const WebhookDeliveryStatus = z
  .enum(["RECEIVED", "PROCESSED", "IGNORED", "FAILED", "REJECTED"])
  .meta({ id: "WebhookDeliveryStatus" });
export type WebhookDeliveryStatus = z.infer<typeof WebhookDeliveryStatus>;

/** `GET /apps/{id}/repo/webhook-deliveries`: the latest deliveries (never a secret or a signature). */
export const WebhookDelivery = z
  .object({
    deliveryId: z.string(),
    gitType: GitType,
    event: z.string().nullable(),
    status: WebhookDeliveryStatus,
    reason: z.string().nullable().meta({ description: "Why it was refused, ignored or failed" }),
    receivedAt: DateTime,
  })
  .meta({
    id: "WebhookDelivery",
    description: "A webhook delivery as received (never a secret or signature)",
  });
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

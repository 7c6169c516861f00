import { OPS_SIGNATURE_HEADER, OPS_TIMESTAMP_HEADER } from "./ops.js";

/**
 * What the services' OpenAPI documents share beyond the schemas: the tags of the API, and how each
 * route is authenticated. Each service's document keeps the tags and schemes its routes use; the
 * gateway merges them into one document (docs/api.md).
 */
export const API_TAGS = [
  { name: "apps", description: "Agent apps and their pro-code configuration (app-svc)" },
  {
    name: "repository",
    description: "An app's repository: binding, branches, tags, webhooks, WebIDE (dev-svc)",
  },
  {
    name: "notifications",
    description: "An app's notification subscriptions and their delivery log (app-svc)",
  },
  { name: "credentials", description: "Git credentials of the team; tokens are write-only (dev-svc)" },
  { name: "iterations", description: "Iterations, their phases and releases by tag (dev-svc)" },
  {
    name: "pipelines",
    description: "Iteration and phase pipelines: state, checkpoints, actions (pipeline-engine)",
  },
  { name: "webhooks", description: "Pushes from git providers, signed (dev-svc)" },
  { name: "deployments", description: "Deployment status from the ops module, signed (ops-gateway)" },
] as const;

type ApiKeyScheme = { type: "apiKey"; in: "header"; name: string; description: string };
const header = (name: string, description: string): ApiKeyScheme => ({
  type: "apiKey",
  in: "header",
  name,
  description,
});

/** Every way a route of the product is authenticated, as OpenAPI security schemes. */
export const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A JWT with the claims `sub` (who) and `team` (whose apps); HS256 with the platform's secret, or keys from its JWKS URL. Missing or invalid: 401 with code 5001.",
  },
  gitlabToken: header(
    "X-Gitlab-Token",
    "GitLab's secret token: the app's webhook secret, compared in constant time.",
  ),
  gitlabSignature: header(
    "webhook-signature",
    'GitLab\'s signing token: `v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<raw body>")>`, with the `webhook-id` and `webhook-timestamp` headers (Standard Webhooks); the timestamp must be recent.',
  ),
  gitlabWebhookId: header("webhook-id", "The delivery id that GitLab's signature covers."),
  gitlabWebhookTimestamp: header("webhook-timestamp", "Unix seconds that GitLab's signature covers."),
  githubSignature: header("X-Hub-Signature-256", "GitHub: `sha256=<hex HMAC-SHA256(secret, raw body)>`."),
  giteeToken: header(
    "X-Gitee-Token",
    'Gitee\'s signature mode: `base64(HMAC-SHA256(secret, "<X-Gitee-Timestamp>\\n<secret>"))`.',
  ),
  giteeTimestamp: header(
    "X-Gitee-Timestamp",
    "Milliseconds since the epoch that Gitee's signature covers; must be recent.",
  ),
  procodeSignature: header(
    "X-Procode-Signature-256",
    "A LOCAL repository's post-receive hook: `sha256=<hex HMAC-SHA256(secret, raw body)>`; the body repeats the timestamp and delivery id.",
  ),
  procodeTimestamp: header(
    "X-Procode-Timestamp",
    "Unix seconds; must be recent and equal the body's timestamp.",
  ),
  procodeDelivery: header("X-Procode-Delivery", "The delivery id; must equal the body's deliveryId."),
  opsSignature: header(
    OPS_SIGNATURE_HEADER,
    `The ops module's callback: \`sha256=<hex HMAC-SHA256(shared secret, "<${OPS_TIMESTAMP_HEADER}>.<raw body>")>\`. Missing, forged or stale: 401 with code 5002.`,
  ),
  opsTimestamp: header(OPS_TIMESTAMP_HEADER, "Unix seconds; within 5 minutes of the receiver's clock."),
} as const;
export type SecuritySchemeName = keyof typeof SECURITY_SCHEMES;
type Requirement = Partial<Record<SecuritySchemeName, string[]>>;

/** `POST /webhooks/{gitType}/{appId}`: one of the providers' schemes (headers in a group go together). */
export const WEBHOOK_SECURITY: Requirement[] = [
  { gitlabToken: [] },
  { gitlabSignature: [], gitlabWebhookId: [], gitlabWebhookTimestamp: [] },
  { githubSignature: [] },
  { giteeToken: [], giteeTimestamp: [] },
  { procodeSignature: [], procodeTimestamp: [], procodeDelivery: [] },
];

/** `POST /deploy/callback`. */
export const OPS_CALLBACK_SECURITY: Requirement[] = [{ opsSignature: [], opsTimestamp: [] }];

import { createHmac } from "node:crypto";

/** Signatures the emulated providers put on their webhooks (what real receivers verify). */

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. */
export function githubSignature256(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** GitHub's legacy `X-Hub-Signature: sha1=<hex>`. */
export function githubSignature1(secret: string, body: string): string {
  return `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`;
}

/**
 * GitLab's signing token (Standard Webhooks): `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "<webhook-id>.<webhook-timestamp>.<body>">`. A `whsec_` token is base64 key material.
 */
export function gitlabWebhookSignature(
  signingToken: string,
  id: string,
  timestamp: string,
  body: string,
): string {
  const key = signingToken.startsWith("whsec_")
    ? Buffer.from(signingToken.slice("whsec_".length), "base64")
    : Buffer.from(signingToken, "utf8");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** Gitee: `X-Gitee-Token = base64(HMAC-SHA256(secret, "<timestamp ms>\n<secret>"))`. */
export function giteeSignature(secret: string, timestampMs: string): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}

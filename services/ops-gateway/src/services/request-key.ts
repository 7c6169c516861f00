import { createHash } from "node:crypto";

/**
 * The idempotency key of a deployment's create at the ops module: derived from what the deployment
 * is (installation, pipeline, attempt, image), never drawn at random, so whoever asks for the same
 * attempt again asks under the same key. That includes a platform restored from a backup taken
 * before the deployment was created: the ops module answers with the deployment it already made
 * (docs/operations.md "Backup and restore"). The image is part of it so that a pipeline id given
 * again after a restore, for another release, never meets the old release's deployment.
 */
export function deploymentRequestKey(
  envName: string,
  pipelineId: number,
  attempt: number,
  image: string,
): string {
  const h = createHash("sha256").update(`${envName}\0deploy\0${pipelineId}\0${attempt}\0${image}`).digest();
  // Shaped as a UUID (version 8, "custom"), the column's type and what ops APIs commonly accept.
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

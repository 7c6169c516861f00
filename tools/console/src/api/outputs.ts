import type { Checkpoint, Pipeline } from "./types";

/** A string field of a checkpoint's output (commitId, dockerfile, image, ...), if it is there. */
export function outputText(c: Pick<Checkpoint, "output"> | undefined, key: string): string | null {
  const v = c?.output?.[key];
  return typeof v === "string" ? v : null;
}

/** The commit a release deployed: what its CODE_CHECK resolved the tag to. */
export function releasedCommit(p: Pick<Pipeline, "checkpoints">): string | null {
  const checks = p.checkpoints.filter((c) => c.stage === "CODE_CHECK" && c.status === "SUCCESS");
  return outputText(checks[checks.length - 1], "commitId");
}

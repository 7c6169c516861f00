import { RELEASE_TAG_PATTERN, RELEASE_TAG_RULE } from "@procode/contracts/release-tag";
import type { Iteration, Pipeline, TagList } from "../api/types";
import { shortCommit } from "../ui/time";

export type TagAssessment =
  | { kind: "empty" | "invalid"; ok: false; message: string }
  | { kind: "new" | "existing" | "rollback"; ok: true; message: string }
  | { kind: "elsewhere"; ok: true; message: string };

/**
 * What releasing `tag` would do, said before the button is pressed: not a tag (the rule), a new tag
 * on the iteration's head, a tag the repository has, or a rollback (a tag this app released
 * before, from an iteration in RELEASE or RELEASED: its commit is deployed again, no tag is made).
 * The API decides; this only tells what it will answer.
 */
export function assessTag(
  raw: string,
  iteration: Pick<Iteration, "id" | "currentPhase" | "headCommit" | "sourceBranch">,
  repoTags: TagList["items"] | undefined,
  releases: readonly Pick<Pipeline, "tag" | "iterationId">[],
): TagAssessment {
  const tag = raw.trim();
  if (tag === "") return { kind: "empty", ok: false, message: "Enter a tag, e.g. v1.0.0." };
  if (!RELEASE_TAG_PATTERN.test(tag))
    return { kind: "invalid", ok: false, message: `The tag ${RELEASE_TAG_RULE}.` };
  const existing = repoTags?.find((t) => t.name === tag);
  const released = releases.filter((r) => r.tag === tag);
  const inRelease = iteration.currentPhase === "RELEASE" || iteration.currentPhase === "RELEASED";
  const rollback =
    inRelease &&
    released.some((r) => r.iterationId !== iteration.id || iteration.currentPhase === "RELEASED");
  if (rollback) {
    return {
      kind: "rollback",
      ok: true,
      message: `${tag} was released before${existing ? ` (commit ${shortCommit(existing.commitId)})` : ""}: this is a rollback. Its commit is deployed again; no tag is created.`,
    };
  }
  if (!existing) {
    return {
      kind: "new",
      ok: true,
      message: `${tag} is a new tag: it will be created on ${iteration.sourceBranch} at ${shortCommit(iteration.headCommit)}.`,
    };
  }
  if (iteration.headCommit && existing.commitId !== iteration.headCommit) {
    return {
      kind: "elsewhere",
      ok: true,
      message: `${tag} already exists on commit ${shortCommit(existing.commitId)}, not on the head of ${iteration.sourceBranch} (${shortCommit(iteration.headCommit)}): the platform refuses a tag on another commit unless this app released it before.`,
    };
  }
  return {
    kind: "existing",
    ok: true,
    message: `${tag} already exists at ${shortCommit(existing.commitId)}, the head of ${iteration.sourceBranch}: it is released as it is.`,
  };
}

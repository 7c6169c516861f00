import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import type { Iteration, Pipeline, ReleaseResult, TagList } from "../api/types";
import { Dialog } from "../ui/dialog";
import { ErrorNote } from "../ui/feedback";
import { assessTag } from "./release-tag";

export type { ReleaseResult };

/**
 * Release an iteration with a tag. The tag is checked as it is typed, and the dialog says what the
 * release will do (a new tag, an existing one, a rollback) before the button is pressed; the API's
 * refusal, if any, shows in the dialog with its code and message.
 */
export function ReleaseDialog({
  iteration,
  repoTags,
  tagsProblem,
  releases,
  release,
  onReleased,
  onClose,
}: {
  iteration: Pick<Iteration, "id" | "name" | "currentPhase" | "headCommit" | "sourceBranch">;
  repoTags: TagList["items"] | undefined;
  /** Why the repository's tags are not known (still loading, stale, unreadable), if so. */
  tagsProblem: string | null;
  releases: readonly Pick<Pipeline, "tag" | "iterationId">[];
  release: (tag: string) => Promise<ReleaseResult>;
  onReleased: (result: ReleaseResult) => void;
  onClose: () => void;
}) {
  const [tag, setTag] = useState("");
  const assessment = assessTag(tag, iteration, repoTags, releases);
  const mutation = useMutation({ mutationFn: () => release(tag.trim()), onSuccess: onReleased });
  const canSubmit = assessment.ok && !mutation.isPending;
  return (
    <Dialog title={`Release ${iteration.name}`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (canSubmit) mutation.mutate();
        }}
      >
        <label htmlFor="release-tag">Tag</label>
        <input
          id="release-tag"
          value={tag}
          onChange={(e) => {
            setTag(e.target.value);
            mutation.reset();
          }}
          placeholder="v1.0.0"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          aria-invalid={assessment.kind === "invalid"}
          aria-describedby="release-tag-check"
        />
        <p
          id="release-tag-check"
          className={`hint hint-${assessment.kind}`}
          aria-live="polite"
          data-kind={assessment.kind}
        >
          {assessment.kind === "rollback" ? <span className="badge badge-rollback">rollback</span> : null}{" "}
          {assessment.message}
        </p>
        {tagsProblem && assessment.ok ? <p className="hint muted">{tagsProblem}</p> : null}
        {mutation.isError ? <ErrorNote error={mutation.error} title="Not released." /> : null}
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" aria-disabled={!canSubmit}>
            {mutation.isPending
              ? "Releasing…"
              : assessment.kind === "rollback"
                ? `Roll back to ${tag.trim()}`
                : assessment.ok
                  ? `Release ${tag.trim()}`
                  : "Release"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

import type { GitType } from "@procode/contracts";
import { isCommitId, ZERO_COMMIT } from "./git-refs.js";

/**
 * What a verified webhook delivery says, in the product's words: a branch or a tag moved (or was
 * created or deleted), or something this service does not act on.
 */
interface RefUpdate {
  kind: "branch" | "tag";
  /** `main`, `v1.0.0`. */
  name: string;
  /** The full ref, `refs/heads/main`. */
  ref: string;
  /** null when the ref was created. */
  before: string | null;
  /** null when the ref was deleted. */
  after: string | null;
}

export type PushReading = { kind: "update"; update: RefUpdate } | { kind: "ignored"; reason: string };

const obj = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

const sha = (v: unknown): string | null | undefined => {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v !== "string") return undefined;
  const lower = v.toLowerCase();
  if (lower === ZERO_COMMIT || /^0+$/.test(lower)) return null;
  return isCommitId(lower) ? lower : undefined;
};

/** Reads `ref`, `before` and `after` the way all four providers send them. */
function readRefUpdate(body: Record<string, unknown>): PushReading {
  const ref = body["ref"];
  if (typeof ref !== "string" || !ref.startsWith("refs/"))
    return { kind: "ignored", reason: "no ref in the payload" };
  const before = sha(body["before"]);
  const after = sha(body["after"]);
  if (before === undefined || after === undefined)
    return { kind: "ignored", reason: "before/after are not commit ids" };
  if (before === null && after === null)
    return { kind: "ignored", reason: "neither before nor after is a commit" };
  if (ref.startsWith("refs/heads/"))
    return { kind: "update", update: { kind: "branch", name: ref.slice(11), ref, before, after } };
  if (ref.startsWith("refs/tags/"))
    return { kind: "update", update: { kind: "tag", name: ref.slice(10), ref, before, after } };
  return { kind: "ignored", reason: `ref ${ref} is neither a branch nor a tag` };
}

/**
 * Interprets a delivery's event name and body. `event` is the provider's event header
 * (X-Gitlab-Event, X-GitHub-Event, X-Gitee-Event, X-Procode-Event).
 */
export function readPush(gitType: GitType, event: string | null, payload: unknown): PushReading {
  const body = obj(payload);
  if (!body) return { kind: "ignored", reason: "the payload is not a JSON object" };
  switch (gitType) {
    case "GITLAB": {
      const kind = body["object_kind"];
      if (kind !== "push" && kind !== "tag_push")
        return { kind: "ignored", reason: `GitLab event ${String(event ?? kind)} is not a push` };
      return readRefUpdate(body);
    }
    case "GITHUB": {
      if (event !== "push")
        return { kind: "ignored", reason: `GitHub event ${event ?? "(none)"} is not a push` };
      return readRefUpdate(body);
    }
    case "GITEE": {
      const hook = body["hook_name"];
      if (hook !== "push_hooks" && hook !== "tag_push_hooks")
        return { kind: "ignored", reason: `Gitee event ${String(event ?? hook)} is not a push` };
      return readRefUpdate(body);
    }
    case "LOCAL": {
      if (event !== "push") return { kind: "ignored", reason: `event ${event ?? "(none)"} is not a push` };
      return readRefUpdate(body);
    }
  }
}

/** Fields removed from a payload before it is stored: Gitee sends its password and signature in the body. */
const PAYLOAD_SECRET_FIELDS = ["password", "sign", "secret", "token"];

/**
 * A copy of the payload fit to store: without secret fields (top level, where providers put them).
 * What the database could not hold (NUL, unpaired surrogates) was refused before (the kit's input
 * guard), so nothing else needs changing.
 */
export function redactPayload(payload: unknown): unknown {
  const body = obj(payload);
  return body
    ? Object.fromEntries(Object.entries(body).filter(([k]) => !PAYLOAD_SECRET_FIELDS.includes(k)))
    : payload;
}

import { z } from "zod";
import {
  IterationMachineState,
  IterationPhase,
  IterationPhaseStatus,
  IterationStatus,
  PipelineStatus,
  TargetPhase,
} from "../enums.js";
import { DateTime, PageQuery } from "../envelope.js";
import { RELEASE_TAG_PATTERN, RELEASE_TAG_RULE } from "../release-tag.js";

export { RELEASE_TAG_PATTERN } from "../release-tag.js";
/** `v` + a semantic version, e.g. v1.0.0 or v2.1.0-rc.1. */
export const ReleaseTag = z
  .string()
  .trim()
  .max(100)
  .regex(RELEASE_TAG_PATTERN, RELEASE_TAG_RULE)
  .meta({ description: "'v' followed by a semantic version", examples: ["v1.0.0"] });

/** A branch name as git allows it (no spaces, no `..`, no control characters). */
export const BranchName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  // eslint-disable-next-line no-control-regex -- git forbids control characters in ref names
  .refine((b) => !/[\s~^:?*[\\\x00-\x1f\x7f]|\.\.|@\{|^[/.]|[/.]$|\.lock$|\/\//.test(b), {
    message: "is not a valid git branch name",
  })
  .meta({ description: "A branch of the app's repository", examples: ["main"] });

/** The body of POST /iterations. */
export const CreateIterationRequest = z
  .object({
    appId: z.number().int().positive().meta({ description: "A pro-code app of the team" }),
    name: z.string().trim().min(1, "must be 1-100 characters").max(100, "must be 1-100 characters"),
    sourceBranch: BranchName,
  })
  .meta({
    id: "CreateIterationRequest",
    description: "The body of POST /iterations",
    examples: [{ appId: 123, name: "v1.0.0", sourceBranch: "main" }],
  });
export type CreateIterationRequest = z.infer<typeof CreateIterationRequest>;

/** One iteration_phase row with its pipeline. */
export const IterationPhaseRecord = z
  .object({
    id: z.number().int(),
    phaseType: IterationPhase,
    branch: z.string().nullable(),
    tag: z.string().nullable(),
    commitId: z.string().nullable(),
    status: IterationPhaseStatus,
    pipelineId: z.number().int().nullable().meta({ description: "The phase pipeline of this release" }),
    rollback: z.boolean().meta({ description: "Whether this release deployed an older tag again" }),
    /** Why the release failed or was refused (the engine's error, or its refusal), else null. */
    reason: z.string().nullable().meta({ description: "Why the release failed or was refused, else null" }),
    createdAt: DateTime,
  })
  .meta({
    id: "IterationPhaseRecord",
    description: "One release of an iteration (an iteration_phase row)",
  });
export type IterationPhaseRecord = z.infer<typeof IterationPhaseRecord>;

/** The answer of POST /iterations (id, appId, name, status, sourceBranch) and the iteration's progress. */
export const Iteration = z
  .object({
    id: z.number().int(),
    appId: z.number().int(),
    name: z.string(),
    status: IterationStatus,
    sourceBranch: z.string(),
    currentPhase: IterationMachineState.nullable().meta({ description: "The iteration pipeline's state" }),
    headCommit: z.string().nullable().meta({ description: "The source branch's head as last seen" }),
    iterationPipelineId: z.number().int().nullable(),
    phasePipelineId: z.number().int().nullable().meta({ description: "The latest release's pipeline" }),
    phases: z.array(IterationPhaseRecord).meta({ description: "Its releases, oldest first" }),
    createdBy: z.string(),
    createdAt: DateTime,
    updatedAt: DateTime,
  })
  .meta({
    id: "Iteration",
    description: "An iteration and its progress",
    examples: [
      {
        id: 456,
        appId: 123,
        name: "v1.0.0",
        status: "DRAFT",
        sourceBranch: "main",
        currentPhase: null,
        headCommit: "abc123",
        iterationPipelineId: null,
        phasePipelineId: null,
        phases: [],
        createdBy: "alice",
        createdAt: "2026-02-27T10:00:00Z",
        updatedAt: "2026-02-27T10:00:00Z",
      },
    ],
  });
export type Iteration = z.infer<typeof Iteration>;

/**
 * A position in an app's iterations list for keyset paging: the `nextCursor` of a page, opaque to
 * clients (base64url of the last id shown, so a page after it reads from the index where the page
 * before ended, however deep; see docs/api.md).
 */
const CURSOR_PREFIX = "iteration:";

export function encodeIterationCursor(lastId: number): string {
  return btoa(`${CURSOR_PREFIX}${lastId}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The last id shown before the cursor's page, or null when `cursor` is not one this list gave. */
export function decodeIterationCursor(cursor: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return null;
  let text: string;
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  const digits = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : "";
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return null;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : null;
}

export const ListIterationsQuery = PageQuery.extend({
  status: IterationStatus.optional().meta({ description: "Only iterations in this status" }),
  cursor: z.string().max(64).optional().meta({
    description:
      "Keyset paging: the nextCursor of the page before; the page starts after its last iteration (pageSize and status as before, page not given)",
  }),
}).superRefine((q, ctx) => {
  if (q.cursor === undefined) return;
  if (decodeIterationCursor(q.cursor) === null)
    ctx.addIssue({ code: "custom", path: ["cursor"], message: "is not a cursor this list answered" });
  else if (q.page !== 1)
    ctx.addIssue({ code: "custom", path: ["cursor"], message: "cannot be combined with page" });
});
export type ListIterationsQuery = z.infer<typeof ListIterationsQuery>;

/** A page of an app's iterations: `Page` of Iteration with the cursor of the page after it. */
export const IterationPage = z
  .object({
    items: z.array(Iteration),
    total: z.number().int().meta({ description: "Items matching the query, all pages together" }),
    page: z.number().int().meta({ description: "The page number asked for (1 with a cursor)" }),
    pageSize: z.number().int(),
    nextCursor: z.string().nullable().meta({
      description: "The cursor of the next page (query parameter cursor), null on the last page",
    }),
  })
  .meta({ id: "IterationPage", description: "A page of Iteration items" });
export type IterationPage = z.infer<typeof IterationPage>;

/**
 * The body of POST /iterations/{id}/proceed. targetPhase is checked by the domain, not the schema: an unknown or backwards
 * target is 2002 (not 1001), so the schema takes any short string and the document lists the
 * phases a client may send. `tag` is needed when the target is RELEASE (else 2003).
 */
export const ProceedIterationBody = z
  .object({
    targetPhase: z
      .string()
      .trim()
      .min(1)
      .max(50)
      .meta({
        enum: [...TargetPhase.options],
        description: "The next phase of the app's phases; any other value is refused with 2002",
      }),
    tag: ReleaseTag.optional().meta({ description: "Required when targetPhase is RELEASE (else 2003)" }),
  })
  .meta({
    id: "ProceedIterationRequest",
    description: "The body of POST /iterations/{id}/proceed",
    examples: [{ targetPhase: "TESTING" }, { targetPhase: "RELEASE", tag: "v1.0.0" }],
  });
export type ProceedIterationBody = z.infer<typeof ProceedIterationBody>;

/** The answer of POST /iterations/{id}/proceed. */
export const ProceedIterationResponse = z
  .object({
    iterationId: z.number().int(),
    currentPhase: IterationMachineState,
    phasePipelineId: z.number().int().nullable(),
  })
  .meta({
    id: "ProceedIterationResponse",
    description: "The answer of POST /iterations/{id}/proceed",
    examples: [{ iterationId: 456, currentPhase: "RELEASE", phasePipelineId: 789 }],
  });
export type ProceedIterationResponse = z.infer<typeof ProceedIterationResponse>;

/** The body of POST /iterations/{id}/release. */
export const ReleaseRequest = z.object({ tag: ReleaseTag }).meta({
  id: "ReleaseRequest",
  description: "The body of POST /iterations/{id}/release",
  examples: [{ tag: "v1.0.0" }],
});
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/**
 * The answer of POST /iterations/{id}/release. pipelineId is null (status PENDING) when the release was recorded but
 * pipeline-engine has not answered yet; it starts as soon as the engine is back.
 */
export const ReleaseResponse = z
  .object({
    iterationId: z.number().int(),
    tag: z.string(),
    pipelineId: z
      .number()
      .int()
      .nullable()
      .meta({ description: "null (status PENDING) until pipeline-engine has answered" }),
    status: PipelineStatus,
    iterationPhaseId: z.number().int(),
    commitId: z.string().nullable().meta({ description: "The commit the tag points at" }),
    rollback: z.boolean().meta({ description: "Whether an older released tag is deployed again" }),
  })
  .meta({
    id: "ReleaseResponse",
    description: "The answer of POST /iterations/{id}/release",
    examples: [
      {
        iterationId: 456,
        tag: "v1.0.0",
        pipelineId: 789,
        status: "RUNNING",
        iterationPhaseId: 12,
        commitId: "abc123",
        rollback: false,
      },
    ],
  });
export type ReleaseResponse = z.infer<typeof ReleaseResponse>;

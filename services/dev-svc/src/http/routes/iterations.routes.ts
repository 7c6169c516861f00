import {
  AppIdParam,
  CreateIterationRequest,
  Envelope,
  IdempotencyHeaders,
  Iteration,
  IterationIdParam,
  ListIterationsQuery,
  ok,
  IterationPage,
  ProceedIterationBody,
  ProceedIterationResponse,
  ReleaseRequest,
  ReleaseResponse,
  type ErrorName,
} from "@procode/contracts";
import { actorOf, type HttpServer, type Idempotency } from "@procode/service-kit";
import { pendingReleaseMessage, type IterationService } from "../../iterations/iteration.service.js";
import type { ReleaseService } from "../../iterations/release.service.js";
import { REPOSITORY_ERRORS } from "./errors.js";

/** What moving an iteration on can answer, besides its repository's errors (a release tags it). */
const ITERATION_MOVE_ERRORS: readonly ErrorName[] = [
  "ITERATION_NOT_FOUND",
  "PHASE_CANNOT_PROCEED",
  "INVALID_TARGET_PHASE",
  "PRECONDITION_FAILED",
  "RELEASE_IN_PROGRESS",
];

/** Iterations and releases; another team's iteration or app is 404. */
export function registerIterationRoutes(
  app: HttpServer,
  iterations: IterationService,
  releases: ReleaseService,
  idempotency: Idempotency,
): void {
  app.post(
    "/iterations",
    {
      schema: {
        operationId: "createIteration",
        tags: ["iterations"],
        summary: "Create an iteration of a pro-code app from a branch (status DRAFT)",
        description:
          "1001 for a bad field, a low-code app or a branch that does not exist; 1004 (404) for an app that is not the team's; 1006 (503) when the provider is down and no branch list is cached. The iteration leaves DRAFT when its pipeline reaches DEVELOPING. Safe to retry with an Idempotency-Key (a lost answer retried makes no second iteration).",
        headers: IdempotencyHeaders,
        body: CreateIterationRequest,
        response: { 200: Envelope(Iteration) },
        errors: [...REPOSITORY_ERRORS, "IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_KEY_IN_USE"],
      },
    },
    async (request, reply) =>
      ok(
        await idempotency.answer(request, reply, "createIteration", (record) =>
          iterations.create(actorOf(request), request.body, request.id, record),
        ),
      ),
  );

  app.get(
    "/iterations/:id",
    {
      schema: {
        operationId: "getIteration",
        tags: ["iterations"],
        summary: "An iteration: status, current phase, head commit, releases with their tags and pipelines",
        params: IterationIdParam,
        response: { 200: Envelope(Iteration) },
        errors: ["ITERATION_NOT_FOUND"],
      },
    },
    async (request) => ok(await iterations.get(actorOf(request), request.params.id)),
  );

  app.get(
    "/apps/:id/iterations",
    {
      schema: {
        operationId: "listAppIterations",
        tags: ["iterations"],
        summary: "The app's iterations, newest first, paged, optionally of one status",
        description:
          "Paged by page and pageSize, or by cursor (keyset paging: the nextCursor of the page before, whose cost does not grow with depth). 1001 naming cursor for a cursor this list did not answer, or a cursor with page.",
        params: AppIdParam,
        querystring: ListIterationsQuery,
        response: { 200: Envelope(IterationPage) },
        errors: ["APP_NOT_FOUND"],
      },
    },
    async (request) => ok(await iterations.list(actorOf(request), request.params.id, request.query)),
  );

  app.post(
    "/iterations/:id/proceed",
    {
      schema: {
        operationId: "proceedIteration",
        tags: ["iterations"],
        summary: "Move an iteration to its next phase (TESTING, STAGING, RELEASE with a tag)",
        description:
          "2002 unknown or backwards target (or not a phase of the app), 2001 the current phase cannot proceed (a release still running, RELEASED), 2003 RELEASE without a tag; RELEASE with a tag is a release (202 when pipeline-engine has not answered yet). 503 (9003) when pipeline-engine does not answer; nothing changed.",
        params: IterationIdParam,
        body: ProceedIterationBody,
        response: {
          200: Envelope(ProceedIterationResponse),
          202: Envelope(ProceedIterationResponse),
        },
        errors: [...ITERATION_MOVE_ERRORS, ...REPOSITORY_ERRORS],
      },
    },
    async (request, reply) => {
      const r = await iterations.proceed(actorOf(request), request.params.id, request.body, request.id);
      return reply.status(r.httpStatus).send({ code: 0, message: r.message, data: r.data });
    },
  );

  app.post(
    "/iterations/:id/release",
    {
      schema: {
        operationId: "releaseIteration",
        tags: ["iterations"],
        summary: "Tag the head of the source branch and start the release's phase pipeline",
        description:
          "tag is 'v' + a semantic version (1001). The same tag on the same commit is success; on another commit 2003, unless the app released that tag before (a rollback: its commit is deployed again, no new tag). 202 with status PENDING and pipelineId null when pipeline-engine does not answer: the release is recorded and starts when it is back.",
        params: IterationIdParam,
        body: ReleaseRequest,
        response: { 200: Envelope(ReleaseResponse), 202: Envelope(ReleaseResponse) },
        errors: [...ITERATION_MOVE_ERRORS, ...REPOSITORY_ERRORS],
      },
    },
    async (request, reply) => {
      const r = await releases.release(actorOf(request), request.params.id, request.body.tag, request.id);
      if (r.answered) return ok(r.response);
      return reply.status(202).send({
        code: 0,
        message: pendingReleaseMessage(r.response.tag, r.response.iterationPhaseId),
        data: r.response,
      });
    },
  );
}

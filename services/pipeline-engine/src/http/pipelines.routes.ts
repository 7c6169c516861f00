import {
  CancelPipelineResponse,
  Envelope,
  IdParam,
  ListPipelinesQuery,
  ok,
  Page,
  Pipeline,
  PipelineActionBody,
  ProceedPipelineResponse,
  ResumePipelineResponse,
  RetryPipelineResponse,
  type Actor,
} from "@procode/contracts";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { CommandExecutor } from "../services/command-executor.js";
import type { PipelineQueries } from "../services/pipeline-queries.js";

/** Seed 3.5, 3.6, 3.8, 3.9 and cancel; every route within the caller's team. */
export function registerPipelineRoutes(
  app: HttpServer,
  queries: PipelineQueries,
  executor: CommandExecutor,
): void {
  app.get(
    "/pipelines/:id",
    {
      schema: {
        tags: ["pipelines"],
        summary: "A pipeline with its checkpoints (seed 3.5)",
        params: IdParam,
        response: { 200: Envelope(Pipeline) },
      },
    },
    async (request) => ok(await queries.get(request.params.id, actorOf(request).team)),
  );

  app.get(
    "/pipelines",
    {
      schema: {
        tags: ["pipelines"],
        summary: "Pipelines filtered by refId, parentId, appId, type and status, newest first",
        querystring: ListPipelinesQuery,
        response: { 200: Envelope(Page(Pipeline)) },
      },
    },
    async (request) => ok(await queries.list(request.query, actorOf(request).team)),
  );

  const act = (
    action: "PROCEED" | "RETRY" | "RESUME" | "CANCEL",
    id: number,
    actor: Actor,
    reason: string | undefined,
    correlationId: string,
  ) =>
    executor.submit({
      kind: "action",
      action,
      pipelineId: id,
      actor,
      correlationId,
      ...(reason ? { reason } : {}),
    });

  app.post(
    "/pipelines/:id/proceed",
    {
      schema: {
        tags: ["pipelines"],
        summary: "Move on after a MANUAL stage succeeded (seed 3.9)",
        params: IdParam,
        body: PipelineActionBody,
        response: { 200: Envelope(ProceedPipelineResponse) },
      },
    },
    async (request) =>
      ok(
        (await act(
          "PROCEED",
          request.params.id,
          actorOf(request),
          request.body.reason,
          request.id,
        )) as ProceedPipelineResponse,
      ),
  );

  app.post(
    "/pipelines/:id/retry",
    {
      schema: {
        tags: ["pipelines"],
        summary:
          "Run the failed stage once more (seed 3.8; 3001 unless FAILED, 3002 when retries are used up)",
        params: IdParam,
        body: PipelineActionBody,
        response: { 200: Envelope(RetryPipelineResponse) },
      },
    },
    async (request) =>
      ok(
        (await act(
          "RETRY",
          request.params.id,
          actorOf(request),
          request.body.reason,
          request.id,
        )) as RetryPipelineResponse,
      ),
  );

  app.post(
    "/pipelines/:id/resume",
    {
      schema: {
        tags: ["pipelines"],
        summary:
          "Continue from the breakpoint: the failed or stuck stage runs again, succeeded stages do not (seed 3.6)",
        params: IdParam,
        body: PipelineActionBody,
        response: { 200: Envelope(ResumePipelineResponse) },
      },
    },
    async (request) =>
      ok(
        (await act(
          "RESUME",
          request.params.id,
          actorOf(request),
          request.body.reason,
          request.id,
        )) as ResumePipelineResponse,
      ),
  );

  app.post(
    "/pipelines/:id/cancel",
    {
      schema: {
        tags: ["pipelines"],
        summary: "End an unfinished pipeline (CANCELLED); a running deployment is asked to stop",
        params: IdParam,
        body: PipelineActionBody,
        response: { 200: Envelope(CancelPipelineResponse) },
      },
    },
    async (request) =>
      ok(
        (await act(
          "CANCEL",
          request.params.id,
          actorOf(request),
          request.body.reason,
          request.id,
        )) as CancelPipelineResponse,
      ),
  );
}

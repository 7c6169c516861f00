import {
  CancelPipelineResponse,
  Envelope,
  ListPipelinesQuery,
  ok,
  Page,
  Pipeline,
  PipelineActionBody,
  PipelineIdParam,
  PipelineLogsQuery,
  ProceedPipelineResponse,
  ResumePipelineResponse,
  RetryPipelineResponse,
  StageLogs,
  type ErrorName,
} from "@procode/contracts";
import type { z } from "zod";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { CommandExecutor } from "../services/command-executor.js";
import type { PipelineQueries } from "../services/pipeline-queries.js";
import type { StageLogReader } from "../services/stage-logs.js";

type Action = "PROCEED" | "RETRY" | "RESUME" | "CANCEL";

/** The four actions and cancel: their path, answer, errors and words. */
const ACTIONS: {
  action: Action;
  path: string;
  operationId: string;
  answer: z.ZodType;
  errors: ErrorName[];
  summary: string;
  description: string;
}[] = [
  {
    action: "PROCEED",
    path: "proceed",
    operationId: "proceedPipeline",
    answer: ProceedPipelineResponse,
    errors: ["PIPELINE_NOT_FOUND", "PIPELINE_STATE_CONFLICT", "PHASE_CANNOT_PROCEED", "PRECONDITION_FAILED"],
    summary:
      "Move on after a MANUAL stage succeeded, waive a blocked quality gate, or move an iteration to its next phase",
    description:
      "A phase pipeline: 3001 when it is not waiting for proceed (`awaiting.action` is PROCEED when it is). A phase pipeline whose quality gate blocked the release: proceed with a `reason` waives the gate and DEPLOY runs (the waiver is kept on the QUALITY_GATE checkpoint and with its report); 1001 without a reason, 3001 for a gate that failed on a configuration error, which is fixed in the repository. An iteration pipeline moves to the app's next phase, as `POST /iterations/{id}/proceed` would: 2001 when the iteration is releasing, released or cancelled; 2003 when the next phase is RELEASE, which needs a tag (`POST /iterations/{id}/release`).",
  },
  {
    action: "RETRY",
    path: "retry",
    operationId: "retryPipeline",
    answer: RetryPipelineResponse,
    errors: ["PIPELINE_NOT_FOUND", "PIPELINE_STATE_CONFLICT", "MAX_RETRIES_REACHED", "RELEASE_IN_PROGRESS"],
    summary: "Run the failed stage once more, within its retry budget",
    description:
      "3001 unless FAILED (or superseded by a newer release), 3002 when `currentRetries` has reached the stage's `maxRetries` (resume starts it afresh), 3005 while another release of the app holds it.",
  },
  {
    action: "RESUME",
    path: "resume",
    operationId: "resumePipeline",
    answer: ResumePipelineResponse,
    errors: ["PIPELINE_NOT_FOUND", "PIPELINE_STATE_CONFLICT", "RELEASE_IN_PROGRESS"],
    summary: "Continue from the breakpoint",
    description:
      "The failed or stuck stage runs again with its retry count reset; succeeded stages do not. 3001 when there is nothing to resume, 3005 while another release of the app holds it.",
  },
  {
    action: "CANCEL",
    path: "cancel",
    operationId: "cancelPipeline",
    answer: CancelPipelineResponse,
    errors: ["PIPELINE_NOT_FOUND", "PIPELINE_STATE_CONFLICT"],
    summary: "End an unfinished pipeline",
    description:
      "The pipeline becomes CANCELLED and a running deployment is asked to stop; cancelling an iteration pipeline cancels its running release too. 3001 when it already ended.",
  },
];

/** GET /pipelines/{id}, resume, retry, proceed and cancel; every route within the caller's team. */
export function registerPipelineRoutes(
  app: HttpServer,
  queries: PipelineQueries,
  executor: CommandExecutor,
  logs: StageLogReader,
): void {
  app.get(
    "/pipelines/:id",
    {
      schema: {
        operationId: "getPipeline",
        tags: ["pipelines"],
        summary: "A pipeline with its checkpoints",
        description: "Another team's pipeline answers 404 (3004) like one that does not exist.",
        params: PipelineIdParam,
        response: { 200: Envelope(Pipeline) },
        errors: ["PIPELINE_NOT_FOUND"],
      },
    },
    async (request) => ok(await queries.get(request.params.id, actorOf(request).team)),
  );

  app.get(
    "/pipelines/:id/logs",
    {
      schema: {
        operationId: "getPipelineLogs",
        tags: ["pipelines"],
        summary: "The stage logs of a phase pipeline",
        description:
          "Each stage attempt's log, line by line with timestamps: the runner's steps, the checks and their findings, the rendered Dockerfile, the image builder's and the ops module's answers; at most 1 MiB of text per attempt (`truncated` says an attempt was cut). Ordered by stage (CODE_CHECK, BUILD, PACKAGE, DEPLOY), attempt and line. `stage` keeps one stage, `attempt` (with `stage`) one attempt. An iteration pipeline has no stage logs. Another team's pipeline answers 404 (3004) like one that does not exist; 503 (9003) when a service that keeps some of the lines does not answer.",
        params: PipelineIdParam,
        querystring: PipelineLogsQuery,
        response: { 200: Envelope(StageLogs) },
        errors: ["PIPELINE_NOT_FOUND"],
      },
    },
    async (request) =>
      ok(await logs.read(request.params.id, actorOf(request).team, request.query, request.id)),
  );

  app.get(
    "/pipelines",
    {
      schema: {
        operationId: "listPipelines",
        tags: ["pipelines"],
        summary: "Pipelines filtered by refId, parentId, appId, type and status, newest first",
        querystring: ListPipelinesQuery,
        response: { 200: Envelope(Page(Pipeline)) },
      },
    },
    async (request) => ok(await queries.list(request.query, actorOf(request).team)),
  );

  for (const a of ACTIONS) {
    app.post(
      `/pipelines/:id/${a.path}`,
      {
        schema: {
          operationId: a.operationId,
          tags: ["pipelines"],
          summary: a.summary,
          description: `${a.description} The body is optional: nothing, or \`{ "reason": "..." }\`.`,
          params: PipelineIdParam,
          body: PipelineActionBody,
          response: { 200: Envelope(a.answer) },
          errors: a.errors,
        },
      },
      async (request) => {
        const reason = request.body?.reason;
        const answer = await executor.submit({
          kind: "action",
          action: a.action,
          pipelineId: request.params.id,
          actor: actorOf(request),
          correlationId: request.id,
          ...(reason ? { reason } : {}),
        });
        return ok(a.answer.parse(answer));
      },
    );
  }
}

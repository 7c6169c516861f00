import { z } from "zod";
import {
  AppChanged,
  DeploymentChanged,
  ErrorCodes,
  IterationChanged,
  NotificationDeliveryChanged,
  PipelineChanged,
  RepositoryChanged,
  StageLogWritten,
  WebhookDeliveryChanged,
  type ErrorName,
} from "@procode/contracts";

type Json = Record<string, unknown>;

/** A message envelope's JSON Schema, its named parts referring to the document's components. */
function schemaOf(envelope: z.ZodType): { schema: Json; defs: Json } {
  const text = JSON.stringify(z.toJSONSchema(envelope, { io: "output" })).replaceAll(
    '"#/$defs/',
    '"#/components/schemas/',
  );
  const { $schema: _, $defs, ...schema } = JSON.parse(text) as Json & { $defs?: Json };
  return { schema, defs: $defs ?? {} };
}

const failure = (kind: ErrorName) => ({
  description: `${ErrorCodes[kind].code} ${ErrorCodes[kind].meaning}`,
  content: {
    "application/json": {
      schema: {
        allOf: [
          { $ref: "#/components/schemas/ErrorEnvelope" },
          { type: "object", properties: { code: { enum: [ErrorCodes[kind].code] } } },
        ],
      },
    },
  },
});

const idParam = (name: string, description: string) => ({
  in: "query",
  name,
  required: false,
  description,
  schema: { type: "integer", exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER },
});

/**
 * The part of the API document the gateway answers itself: `GET /events` (docs/api.md, "Live
 * events"), with the live events' schemas from the contracts.
 */
export function gatewayOwnDocument(): { paths: Record<string, Json>; schemas: Json; securitySchemes: Json } {
  const pipeline = schemaOf(PipelineChanged.envelope);
  const iteration = schemaOf(IterationChanged.envelope);
  const log = schemaOf(StageLogWritten.envelope);
  const deployment = schemaOf(DeploymentChanged.envelope);
  const repository = schemaOf(RepositoryChanged.envelope);
  const app = schemaOf(AppChanged.envelope);
  const webhook = schemaOf(WebhookDeliveryChanged.envelope);
  const notification = schemaOf(NotificationDeliveryChanged.envelope);
  return {
    schemas: {
      ...pipeline.defs,
      ...iteration.defs,
      ...log.defs,
      ...deployment.defs,
      ...repository.defs,
      ...app.defs,
      ...webhook.defs,
      ...notification.defs,
      PipelineEvent: { ...pipeline.schema, description: PipelineChanged.description },
      IterationEvent: { ...iteration.schema, description: IterationChanged.description },
      LogEvent: { ...log.schema, description: StageLogWritten.description },
      DeploymentEvent: { ...deployment.schema, description: DeploymentChanged.description },
      RepositoryEvent: { ...repository.schema, description: RepositoryChanged.description },
      AppEvent: { ...app.schema, description: AppChanged.description },
      WebhookDeliveryEvent: { ...webhook.schema, description: WebhookDeliveryChanged.description },
      NotificationDeliveryEvent: {
        ...notification.schema,
        description: NotificationDeliveryChanged.description,
      },
    },
    securitySchemes: {
      accessToken: {
        type: "apiKey",
        in: "query",
        name: "access_token",
        description:
          "The bearer token as a query parameter, on GET /events only (a browser's EventSource cannot send a header); never logged.",
      },
    },
    paths: {
      "/events": {
        get: {
          operationId: "streamEvents",
          summary: "The team's live events (Server-Sent Events)",
          tags: ["events"],
          description:
            "A Server-Sent Events stream of the caller's team: `event: pipeline` (a pipeline's summary after each change), `event: iteration` (an iteration after each change), `event: log` (a line added to a stage attempt's log), `event: deployment` (a deployment started, waits for the ops module, or finished), `event: repository` (an app's repository binding was created or changed: binding state, last error, scaffold state), `event: app` (an app was created or its configuration changed), `event: webhook` (a repository webhook delivery was recorded or its outcome changed) and `event: notification` (a notification delivery was written or attempted), each with `id:` its position in the stream and `data:` the event as JSON. A comment line `: heartbeat` comes every 15 s. Reconnecting with `Last-Event-ID` (or `lastEventId`) resumes after that event when it is less than an hour old; otherwise the stream first sends `event: reset` (reload what you show). Passed through unbuffered (`X-Accel-Buffering: no`).",
          security: [{ bearer: [] }, { accessToken: [] }],
          parameters: [
            idParam("appId", "Only events of this app"),
            idParam(
              "pipelineId",
              "Only events of this pipeline, its log lines and deployments (and its iteration's, while it is the release's); no repository, app, webhook or notification events",
            ),
            {
              in: "query",
              name: "types",
              required: false,
              description:
                "Comma-separated event names: pipeline, iteration, log, deployment, repository, app, webhook, notification (default: all)",
              schema: { type: "string", example: "pipeline" },
            },
            {
              in: "query",
              name: "lastEventId",
              required: false,
              description: "Resume after this event (as the Last-Event-ID header; the header wins)",
              schema: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            },
            {
              in: "header",
              name: "Last-Event-ID",
              required: false,
              description: "Resume after this event (EventSource sends it when it reconnects)",
              schema: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            },
          ],
          responses: {
            "200": {
              description: "The event stream; each event's data is one of these",
              content: {
                "text/event-stream": {
                  schema: {
                    oneOf: [
                      { $ref: "#/components/schemas/PipelineEvent" },
                      { $ref: "#/components/schemas/IterationEvent" },
                      { $ref: "#/components/schemas/LogEvent" },
                      { $ref: "#/components/schemas/DeploymentEvent" },
                      { $ref: "#/components/schemas/RepositoryEvent" },
                      { $ref: "#/components/schemas/AppEvent" },
                      { $ref: "#/components/schemas/WebhookDeliveryEvent" },
                      { $ref: "#/components/schemas/NotificationDeliveryEvent" },
                    ],
                  },
                },
              },
            },
            "400": failure("INVALID_PARAMETER"),
            "401": failure("UNAUTHENTICATED"),
            "503": failure("DEPENDENCY_UNAVAILABLE"),
          },
        },
      },
    },
  };
}

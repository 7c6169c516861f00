import {
  App,
  CreateAppRequest,
  Envelope,
  ErrorEnvelope,
  IdParam,
  ListAppsQuery,
  ok,
  Page,
  PutProcodeConfigRequest,
  PutProcodeConfigResponse,
} from "@procode/contracts";
import type { FastifyRequest } from "fastify";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { AppService } from "../../services/app.service.js";
import { findNulCharacter } from "../input-guard.js";

/** Error answers every route may give, so the OpenAPI document shows the envelope for them. */
const errors = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  404: ErrorEnvelope,
  409: ErrorEnvelope,
  500: ErrorEnvelope,
} as const;

/** Before schema validation: a NUL anywhere in the query or body is the 1001 of its field. */
const refuseNul = {
  preValidation: async (request: FastifyRequest) => {
    const found = findNulCharacter(request.query) ?? findNulCharacter(request.body);
    if (found) throw found;
  },
};

/** Seed 3.1, 3.2 and the reads of SPEC 2: the caller's team comes from the bearer token. */
export function registerAppRoutes(app: HttpServer, apps: AppService): void {
  app.post(
    "/apps",
    {
      ...refuseNul,
      schema: {
        tags: ["apps"],
        summary: "Create an app (low-code or pro-code)",
        description:
          "Codes: 1001 invalid parameter (the message names the field), 1002 name already exists, 1003 git repository not reachable.",
        body: CreateAppRequest,
        response: { 200: Envelope(App), ...errors },
      },
    },
    async (request) => ok(await apps.create(actorOf(request), request.body, request.id)),
  );

  app.get(
    "/apps",
    {
      ...refuseNul,
      schema: {
        tags: ["apps"],
        summary: "List the caller's team's apps (paged; filter by devMode, search by name)",
        querystring: ListAppsQuery,
        response: { 200: Envelope(Page(App)), ...errors },
      },
    },
    async (request) => ok(await apps.list(actorOf(request), request.query)),
  );

  app.get(
    "/apps/:id",
    {
      ...refuseNul,
      schema: {
        tags: ["apps"],
        summary: "Get an app of the caller's team (1004 for any other)",
        params: IdParam,
        response: { 200: Envelope(App), ...errors },
      },
    },
    async (request) => ok(await apps.get(actorOf(request), request.params.id)),
  );

  app.put(
    "/apps/:id/procode-config",
    {
      ...refuseNul,
      schema: {
        tags: ["apps"],
        summary: "Configure a pro-code app's repository and pipeline settings",
        description:
          "Fields left out keep their value. The repository is probed again when its URL changes (1003 when unreachable). A low-code app answers 1001 naming devMode.",
        params: IdParam,
        body: PutProcodeConfigRequest,
        response: { 200: Envelope(PutProcodeConfigResponse), ...errors },
      },
    },
    async (request) =>
      ok(await apps.putProcodeConfig(actorOf(request), request.params.id, request.body, request.id)),
  );
}

import { describe, expect, it } from "vitest";
import { mergeDocuments } from "../src/openapi.js";

const opts = {
  publicBaseUrl: "https://procode.example.com",
  title: "Pro-code API",
  version: "1.2.3",
  description: "the API",
};
const op = (operationId: string, ref?: string) => ({
  operationId,
  responses: {
    "200": {
      description: "ok",
      ...(ref ? { content: { "application/json": { schema: { $ref: ref } } } } : {}),
    },
  },
});
const errorEnvelope = { type: "object", properties: { code: { type: "integer" } } };

describe("the merged API document", () => {
  it("takes each service's operations the gateway routes to it, with one copy of shared schemas", () => {
    const { document, unrouted } = mergeDocuments(
      [
        {
          upstream: "app-svc",
          document: {
            tags: [{ name: "apps" }],
            paths: {
              "/apps": { get: op("listApps"), post: op("createApp") },
              "/apps/{id}": { get: op("getApp") },
            },
            components: { schemas: { App: { type: "object" }, ErrorEnvelope: errorEnvelope } },
          },
        },
        {
          upstream: "dev-svc",
          document: {
            tags: [{ name: "iterations" }, { name: "apps" }],
            paths: { "/apps/{id}/iterations": { get: op("listAppIterations") } },
            components: {
              schemas: { ErrorEnvelope: errorEnvelope },
              securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
            },
          },
        },
      ],
      opts,
    );
    expect(unrouted).toEqual([]);
    expect(document).toMatchObject({
      openapi: "3.1.0",
      info: { title: "Pro-code API", version: "1.2.3" },
      servers: [{ url: "https://procode.example.com" }],
      security: [{ bearer: [] }],
      tags: [{ name: "apps" }, { name: "iterations" }],
    });
    expect(Object.keys(document["paths"] as object)).toEqual([
      "/apps",
      "/apps/{id}",
      "/apps/{id}/iterations",
    ]);
    expect(Object.keys((document["components"] as { schemas: object }).schemas)).toEqual([
      "App",
      "ErrorEnvelope",
    ]);
  });

  it("leaves out, and reports, an operation a service documents but the gateway sends elsewhere", () => {
    const { document, unrouted } = mergeDocuments(
      [
        {
          upstream: "app-svc",
          document: {
            paths: { "/apps/{id}/repo": { get: op("getRepoBinding") }, "/apps": { get: op("listApps") } },
          },
        },
      ],
      opts,
    );
    expect(unrouted).toEqual([{ upstream: "app-svc", path: "GET /apps/{id}/repo" }]);
    expect(Object.keys(document["paths"] as object)).toEqual(["/apps"]);
  });

  it("refuses to merge a schema two services define differently", () => {
    expect(() =>
      mergeDocuments(
        [
          {
            upstream: "app-svc",
            document: { paths: {}, components: { schemas: { App: { type: "object" } } } },
          },
          {
            upstream: "dev-svc",
            document: { paths: {}, components: { schemas: { App: { type: "string" } } } },
          },
        ],
        opts,
      ),
    ).toThrow("dev-svc defines schema App differently from another service");
  });
});

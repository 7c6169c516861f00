import fastifySwagger, { type SwaggerTransform } from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { createJsonSchemaTransformObject, jsonSchemaTransform } from "fastify-type-provider-zod";
import type { ZodType } from "zod";
import { API_TAGS, ErrorCodes, SECURITY_SCHEMES, type ErrorName } from "@procode/contracts";

declare module "fastify" {
  interface FastifySchema {
    /**
     * The product's errors the route itself can answer (docs/errors.md). The document adds the ones
     * every route of the kit may give: 401 unless public, 1001 for a route with input, 413/415 for
     * a body, 500 and 503.
     */
    errors?: readonly ErrorName[];
  }
}

export interface OpenApiOptions {
  service: string;
  version?: string;
  description?: string;
}

type Json = Record<string, unknown>;
const REF_PREFIX = "#/components/schemas/";
/** Marks an operation whose body may be left out; replaced by `requestBody.required: false`. */
const OPTIONAL_BODY = "x-procode-optional-body";

const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  "200": "Success: the envelope with code 0 and the data",
  "202": "Accepted: recorded; it completes when the service it waits for answers (code 0)",
};

/** The errors a route can answer, grouped by HTTP status. */
function errorsOf(route: {
  declared: readonly ErrorName[];
  isPublic: boolean;
  hasInput: boolean;
  hasBody: boolean;
}) {
  const names = new Set<ErrorName>(route.declared);
  if (!route.isPublic) names.add("UNAUTHENTICATED");
  if (route.hasInput || route.hasBody) names.add("INVALID_PARAMETER");
  if (route.hasBody) {
    names.add("PAYLOAD_TOO_LARGE");
    names.add("UNSUPPORTED_MEDIA_TYPE");
  }
  names.add("INTERNAL");
  // The database, NATS or a peer service down; through the gateway also the owning service down.
  names.add("DEPENDENCY_UNAVAILABLE");
  const byStatus = new Map<number, ErrorName[]>();
  for (const name of names) {
    const status = ErrorCodes[name].httpStatus;
    byStatus.set(status, [...(byStatus.get(status) ?? []), name]);
  }
  return [...byStatus.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, list]) => {
      const sorted = list.map((n) => ErrorCodes[n]).sort((a, b) => a.code - b.code);
      return {
        status,
        codes: sorted.map((e) => e.code),
        meanings: sorted.map((e) => `${e.code} ${e.meaning}`),
      };
    });
}

/** The response object of one error status: the envelope, its code restricted to the route's codes. */
function errorResponse(codes: number[], meanings: string[]): Json {
  return {
    description: meanings.join("; "),
    content: {
      "application/json": {
        schema: {
          allOf: [
            { $ref: `${REF_PREFIX}ErrorEnvelope` },
            { type: "object", properties: { code: { enum: codes } } },
          ],
        },
      },
    },
  };
}

/** Per route: the zod schemas as JSON Schema, then the error answers, descriptions and optional bodies. */
const documentRoute: SwaggerTransform = (doc) => {
  const out = jsonSchemaTransform(doc);
  const schema = out.schema as Json & { hide?: boolean };
  const raw = doc.schema as
    | {
        body?: ZodType;
        params?: unknown;
        querystring?: unknown;
        errors?: readonly ErrorName[];
        security?: unknown;
      }
    | undefined;
  if (!raw || schema.hide) return out;
  const isPublic = doc.route.config?.public === true;
  const responses: Json = { ...((schema["response"] as Json | undefined) ?? {}) };
  for (const [status, body] of Object.entries(responses)) {
    const text = SUCCESS_DESCRIPTIONS[status];
    if (text && !(body as Json)["description"]) responses[status] = { ...(body as Json), description: text };
  }
  for (const e of errorsOf({
    declared: raw.errors ?? [],
    isPublic,
    hasInput: Boolean(raw.params || raw.querystring),
    hasBody: Boolean(raw.body),
  })) {
    responses[String(e.status)] = errorResponse(e.codes, e.meanings);
  }
  const { errors: _errors, ...rest } = schema;
  const next: Json = { ...rest, response: responses };
  if (isPublic && raw.security === undefined) next["security"] = [];
  if (raw.body && raw.body.safeParse(undefined).success) next[OPTIONAL_BODY] = true;
  return { schema: next, url: out.url };
};

const withRegistrySchemas = createJsonSchemaTransformObject({});

/** Every `$ref` to a component schema under `value`. */
function refsIn(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, found);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith(REF_PREFIX))
        found.add(v.slice(REF_PREFIX.length));
      else refsIn(v, found);
    }
  }
  return found;
}

function renameRefs(value: unknown, names: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => renameRefs(v, names));
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) =>
      k === "$ref" && typeof v === "string" && v.startsWith(REF_PREFIX)
        ? [k, `${REF_PREFIX}${names.get(v.slice(REF_PREFIX.length)) ?? v.slice(REF_PREFIX.length)}`]
        : [k, renameRefs(v, names)],
    ),
  );
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The whole document: only the component schemas its operations use (transitively), under their
 * contract names (a request schema is named `X`, not `XInput`, unless its answer form is used too and
 * differs), the security schemes and tags in use, and optional bodies marked as such.
 */
function finishDocument(document: Json): Json {
  const paths = (document["paths"] ?? {}) as Record<string, Record<string, Json>>;
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      if (op && typeof op === "object" && op[OPTIONAL_BODY]) {
        delete op[OPTIONAL_BODY];
        if (op["requestBody"]) op["requestBody"] = { ...(op["requestBody"] as Json), required: false };
      }
    }
  }
  const components = (document["components"] ?? {}) as Json;
  const all = (components["schemas"] ?? {}) as Record<string, unknown>;
  const used = new Set<string>();
  const queue = [...refsIn(paths, new Set())];
  while (queue.length) {
    const name = queue.pop()!;
    if (used.has(name)) continue;
    used.add(name);
    queue.push(...refsIn(all[name], new Set()));
  }
  const names = new Map<string, string>();
  for (const name of used) {
    if (!name.endsWith("Input")) continue;
    const base = name.slice(0, -"Input".length);
    if (!used.has(base) || sameJson(all[name], all[base])) names.set(name, base);
  }
  const schemas: Record<string, unknown> = {};
  for (const name of [...used].sort()) {
    const target = names.get(name) ?? name;
    if (!(target in schemas)) schemas[target] = renameRefs(all[name], names);
  }
  const requirements = [
    ...((document["security"] as Json[] | undefined) ?? []),
    ...Object.values(paths).flatMap((item) =>
      Object.values(item).flatMap((op) => (op["security"] as Json[] | undefined) ?? []),
    ),
  ];
  const schemeNames = new Set(requirements.flatMap((r) => Object.keys(r)));
  const allSchemes = (components["securitySchemes"] ?? {}) as Record<string, unknown>;
  const tagNames = new Set(
    Object.values(paths).flatMap((item) =>
      Object.values(item).flatMap((op) => (op["tags"] as string[] | undefined) ?? []),
    ),
  );
  return {
    ...document,
    tags: ((document["tags"] as { name: string }[] | undefined) ?? []).filter((t) => tagNames.has(t.name)),
    paths: renameRefs(paths, names),
    components: {
      ...components,
      schemas,
      securitySchemes: Object.fromEntries(Object.entries(allSchemes).filter(([n]) => schemeNames.has(n))),
    },
  };
}

/**
 * OpenAPI 3.1 generated from the zod schemas the routes validate with (named schemas by their
 * contract ids), so the document cannot drift from what the service accepts and answers.
 */

export async function registerOpenApi(
  app: FastifyInstance<any, any, any, any, any>,
  opts: OpenApiOptions,
): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: opts.service,
        version: opts.version ?? "0.1.0",
        description: opts.description ?? opts.service,
      },
      components: { securitySchemes: structuredClone(SECURITY_SCHEMES) as never },
      // Relative: the service where the document is read; the gateway's document names the public URL.
      servers: [{ url: "/", description: "This service" }],
      security: [{ bearer: [] }],
      tags: API_TAGS.map((t) => ({ ...t })),
    },
    transform: documentRoute,
    transformObject: (doc) => finishDocument(withRegistrySchemas(doc) as Json) as never,
  });
}

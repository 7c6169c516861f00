import FindMyWay from "find-my-way";
import { ROUTES, type Upstream } from "./routes.js";

type Json = Record<string, unknown>;
type Document = Json & { paths?: Record<string, Json>; components?: Json; tags?: { name: string }[] };

export interface MergeOptions {
  /** Where callers reach the API (the document's only server). */
  publicBaseUrl: string;
  title: string;
  version: string;
  description: string;
  /**
   * What the gateway answers itself (`GET /events`): its paths, and schemas and schemes the
   * services' documents may already define (theirs stand).
   */
  own?: {
    paths: Record<string, Json>;
    schemas: Json;
    securitySchemes: Json;
    tags: { name: string; description: string }[];
  };
}

export interface MergeResult {
  document: Json;
  /** Paths a service documents that the gateway sends elsewhere (left out; a routing mistake). */
  unrouted: { upstream: Upstream; path: string }[];
}

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** Which upstream the gateway sends a concrete path to: the same router rules the proxy uses. */
function createRouteLookup() {
  const router = FindMyWay();
  for (const rule of ROUTES) {
    for (const pattern of rule.patterns) {
      router.on(["GET", "POST", "PUT", "PATCH", "DELETE"], pattern, () => {}, { upstream: rule.upstream });
    }
  }
  return (method: string, path: string): Upstream | null => {
    // A template path (`/apps/{id}/repo`) as a concrete one: any parameter value routes alike.
    const concrete = path.replace(/\{[^}]+\}/g, "1");
    const found = router.find(method.toUpperCase() as "GET", concrete);
    return (found?.store as { upstream: Upstream } | undefined)?.upstream ?? null;
  };
}
const upstreamOf = createRouteLookup();

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One document from the services' documents: each service contributes the operations the gateway
 * routes to it; component schemas and security schemes are shared by name (a name defined two ways
 * is an error: the services disagree on a contract), tags are kept in the services' order.
 */
export function mergeDocuments(
  docs: { upstream: Upstream; document: Document }[],
  opts: MergeOptions,
): MergeResult {
  const paths: Record<string, Json> = {};
  const schemas: Json = {};
  const securitySchemes: Json = {};
  const tags: { name: string }[] = [];
  const unrouted: MergeResult["unrouted"] = [];
  const define = (into: Json, kind: string, name: string, value: unknown, upstream: Upstream) => {
    if (name in into && !sameJson(into[name], value)) {
      throw new Error(`${upstream} defines ${kind} ${name} differently from another service`);
    }
    into[name] = value;
  };
  for (const { upstream, document } of docs) {
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const method of HTTP_METHODS) {
        const operation = item[method];
        if (!operation) continue;
        if (upstreamOf(method, path) !== upstream) {
          unrouted.push({ upstream, path: `${method.toUpperCase()} ${path}` });
          continue;
        }
        paths[path] = { ...paths[path], [method]: operation };
      }
    }
    const components = (document.components ?? {}) as { schemas?: Json; securitySchemes?: Json };
    for (const [name, schema] of Object.entries(components.schemas ?? {})) {
      define(schemas, "schema", name, schema, upstream);
    }
    for (const [name, scheme] of Object.entries(components.securitySchemes ?? {})) {
      define(securitySchemes, "security scheme", name, scheme, upstream);
    }
    for (const tag of document.tags ?? []) if (!tags.some((t) => t.name === tag.name)) tags.push(tag);
  }
  if (opts.own) {
    Object.assign(paths, opts.own.paths);
    for (const [name, schema] of Object.entries(opts.own.schemas)) schemas[name] ??= schema;
    for (const [name, scheme] of Object.entries(opts.own.securitySchemes)) securitySchemes[name] ??= scheme;
    for (const tag of opts.own.tags) if (!tags.some((t) => t.name === tag.name)) tags.push(tag);
  }
  const sorted = <T>(o: Record<string, T>) =>
    Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return {
    unrouted,
    document: {
      openapi: "3.1.0",
      info: { title: opts.title, version: opts.version, description: opts.description },
      servers: [{ url: opts.publicBaseUrl, description: "The gateway of this installation" }],
      security: [{ bearer: [] }],
      tags,
      paths: sorted(paths),
      components: { schemas: sorted(schemas), securitySchemes },
    },
  };
}

export interface OpenApiSourceOptions extends MergeOptions {
  upstreams: Record<Upstream, string>;
  /** How long a merged document is served before the services are asked again. */
  ttlMs: number;
  timeoutMs: number;
  onUnrouted?: (unrouted: MergeResult["unrouted"]) => void;
}

/** The merged document could not be made: a service never answered, or the services disagree. */
export class OpenApiUnavailableError extends Error {
  override name = "OpenApiUnavailableError";
}

/**
 * The merged document, built from the services' own `/openapi.json` (docs/services/gateway.md says
 * why): fetched at start-up and again on demand once `ttlMs` has passed; a service that does not
 * answer contributes its last good document, and until it has answered once the merge fails with a
 * message naming it.
 */
export class OpenApiSource {
  private readonly last = new Map<Upstream, Document>();
  private merged: { at: number; document: Json } | null = null;
  private inflight: Promise<Json> | null = null;

  constructor(private readonly opts: OpenApiSourceOptions) {}

  async document(now = Date.now()): Promise<Json> {
    if (this.merged && now - this.merged.at < this.opts.ttlMs) return this.merged.document;
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchOne(upstream: Upstream): Promise<void> {
    const url = `${this.opts.upstreams[upstream].replace(/\/$/, "")}/openapi.json`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) return;
      const body = (await res.json()) as Document;
      if (body && typeof body === "object" && typeof body.paths === "object") this.last.set(upstream, body);
    } catch {
      // Not answering now: its last good document stands (or the merge names it below).
    }
  }

  private async refresh(): Promise<Json> {
    const upstreams = Object.keys(this.opts.upstreams) as Upstream[];
    await Promise.all(upstreams.map((u) => this.fetchOne(u)));
    const missing = upstreams.filter((u) => !this.last.has(u));
    if (missing.length) {
      throw new OpenApiUnavailableError(
        `the API document is incomplete: ${missing.join(", ")} did not answer; retry later`,
      );
    }
    let result: MergeResult;
    try {
      result = mergeDocuments(
        upstreams.map((u) => ({ upstream: u, document: this.last.get(u)! })),
        this.opts,
      );
    } catch (err) {
      throw new OpenApiUnavailableError(`the services' documents do not agree: ${(err as Error).message}`);
    }
    if (result.unrouted.length) this.opts.onUnrouted?.(result.unrouted);
    this.merged = { at: Date.now(), document: result.document };
    return result.document;
  }
}

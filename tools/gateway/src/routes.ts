/**
 * Which service answers which path. The gateway and the Kubernetes Ingress
 * (deploy/k8s/ingress.yaml) route the same way; the first matching rule wins, so the app-scoped
 * paths dev-svc answers come before app-svc's `/apps` prefix.
 */
export type Upstream = "app-svc" | "dev-svc" | "pipeline-engine" | "ops-gateway";

export interface RouteRule {
  /** fastify route patterns covered by the rule. */
  patterns: string[];
  upstream: Upstream;
  /** Which body limit the owning service applies: its default one, or the webhooks' own. */
  bodyLimit?: "webhooks";
}

export const ROUTES: RouteRule[] = [
  { patterns: ["/apps/:id/iterations"], upstream: "dev-svc" },
  { patterns: ["/apps/:id/repo", "/apps/:id/repo/*"], upstream: "dev-svc" },
  { patterns: ["/apps/:id/webide"], upstream: "dev-svc" },
  { patterns: ["/apps/:id/quality", "/apps/:id/quality/*"], upstream: "dev-svc" },
  { patterns: ["/apps", "/apps/*"], upstream: "app-svc" },
  { patterns: ["/iterations", "/iterations/*"], upstream: "dev-svc" },
  { patterns: ["/credentials", "/credentials/*"], upstream: "dev-svc" },
  { patterns: ["/webhooks/*"], upstream: "dev-svc", bodyLimit: "webhooks" },
  { patterns: ["/pipelines", "/pipelines/*"], upstream: "pipeline-engine" },
  { patterns: ["/deploy/*"], upstream: "ops-gateway" },
];

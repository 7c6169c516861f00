/**
 * The console's pages (wouter patterns). The gateway answers a browser navigation to any of these
 * paths with the console's index.html, so a deep link survives a reload, while the same path asked
 * for JSON (`/apps/1`, `/pipelines/7`) still reaches the API.
 */
export const PAGES = {
  apps: "/",
  signIn: "/sign-in",
  app: "/apps/:id",
  appIterations: "/apps/:id/iterations",
  appQuality: "/apps/:id/quality",
  iteration: "/iterations/:id",
  pipeline: "/pipelines/:id",
} as const;

const matchers = Object.values(PAGES).map(
  (pattern) => new RegExp(`^${pattern.replace(/:[a-z]+/g, "[^/]+")}/?$`),
);

/** Whether a path (no query) is one of the console's pages. */
export function isConsolePage(path: string): boolean {
  return matchers.some((m) => m.test(path));
}

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

/** The newest modification time under `dir` (files only), 0 when it does not exist. */
function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  const stat = statSync(dir);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist") continue;
    newest = Math.max(newest, newestMtime(path.join(dir, entry)));
  }
  return newest;
}

/**
 * Builds the web console (tools/console/dist, which the gateway serves at `/`) when it is missing or
 * older than its sources, so `npm start` always serves the console of this checkout.
 */
export function ensureConsoleBuilt(root: string, pnpm = process.env["PROCODE_PNPM"] ?? "pnpm"): void {
  const dir = path.join(root, "tools", "console");
  const built = path.join(dir, "dist", "index.html");
  // Its own sources and the contracts' view modules it bundles (libs/contracts/src).
  const sources = [
    ...["src", "index.html", "vite.config.ts", "package.json"].map((f) => path.join(dir, f)),
    path.join(root, "libs", "contracts", "src"),
  ];
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  if (builtAt >= Math.max(...sources.map(newestMtime))) return;
  process.stdout.write("building the web console (tools/console)…\n");
  execFileSync(pnpm, ["--filter", "@procode/console", "run", "build"], {
    cwd: root,
    // What is served is the production build, whatever NODE_ENV the caller runs under (a test runner
    // sets "test", which would bundle React's development build, StrictMode's double effects included).
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

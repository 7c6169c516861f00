import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A file or directory shipped with dev-svc beside its code (`programs/`, `templates/`): under the
 * package when it runs from source, beside `main.js` when it runs from its bundle (the build copies
 * them into `dist/`, which is what the image holds).
 */
export function shippedPath(...parts: string[]): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, ...parts), path.resolve(here, "..", ...parts)];
  return candidates.find((c) => existsSync(c)) ?? candidates[1]!;
}

import { readFileSync } from "node:fs";
import { shippedPath } from "../../shipped.js";

/**
 * The `post-receive` hook the LOCAL provider installs as a repository's "webhook": two programs
 * shipped with dev-svc (`programs/post-receive.sh`, the hook git runs, and `programs/post-receive.cjs`,
 * the delivery it starts) and the path of the Node.js to run it with. Git runs the hook after every
 * push; it POSTs each updated ref to the app's webhook URL, signed like the other providers'
 * deliveries (see the delivery program), and never fails or blocks a push.
 *
 * Configuration lives beside the repository's objects, one file per webhook, readable by the
 * repository's owner only: `<git dir>/procode-hooks/<id>.json` = `{ url, secret, timeoutMs }`.
 */
export const HOOK_MARKER = "procode-post-receive";
export const HOOK_SCRIPT_NAME = "procode-post-receive.cjs";
/** Names the Node.js the hook runs the delivery program with (the one dev-svc runs on). */
export const HOOK_NODE_FILE = "procode-post-receive.node";
export const CHAINED_HOOK_NAME = "post-receive.procode-chained";
export const HOOK_CONFIG_DIR = "procode-hooks";

/** The files of the hook, as installed into `<git dir>/hooks/`. */
export interface HookFiles {
  /** `hooks/post-receive`. */
  wrapper: string;
  /** `hooks/procode-post-receive.cjs`. */
  script: string;
}

let cached: HookFiles | undefined;

/** The hook's programs as shipped (read once). */
export function hookFiles(): HookFiles {
  cached ??= {
    wrapper: readFileSync(shippedPath("programs", "post-receive.sh"), "utf8"),
    script: readFileSync(shippedPath("programs", "post-receive.cjs"), "utf8"),
  };
  return cached;
}

/**
 * The `post-receive` hook the LOCAL provider installs as a repository's "webhook". Git runs it after
 * every push; it POSTs each updated ref to the app's webhook URL, signed like the other providers'
 * deliveries: `X-Procode-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the app's
 * secret, `X-Procode-Timestamp` (unix seconds, also in the body), `X-Procode-Delivery` (a uuid, also in
 * the body) and `X-Procode-Event: push`. It never fails or blocks a push: when dev-svc does not answer
 * within its timeout it says so on stderr (the pusher sees "remote: ...") and exits 0.
 *
 * Configuration lives beside the repository's objects, one file per webhook, readable by the
 * repository's owner only: `<git dir>/procode-hooks/<id>.json` = `{ url, secret, timeoutMs }`.
 */
export const HOOK_MARKER = "procode-post-receive";
export const HOOK_SCRIPT_NAME = "procode-post-receive.cjs";
export const CHAINED_HOOK_NAME = "post-receive.procode-chained";
export const HOOK_CONFIG_DIR = "procode-hooks";

/** The shell wrapper git runs (`hooks/post-receive`). */
export function postReceiveWrapper(nodePath: string): string {
  const quoted = `'${nodePath.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# ${HOOK_MARKER}: installed by the Pro-code platform; delivers pushes to the platform's webhook.
# It never fails the push.
${quoted} "$(dirname "$0")/${HOOK_SCRIPT_NAME}"
exit 0
`;
}

/** The delivery program (plain Node.js, CommonJS, no dependencies). */
export const POST_RECEIVE_SCRIPT = String.raw`"use strict";
// ${HOOK_MARKER}: delivers each pushed ref to the Pro-code webhook of every app bound to this
// repository. Always exits 0: a push never fails because the platform is down.
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const http = require("http");
const https = require("https");
const { spawnSync } = require("child_process");

const gitDir = path.resolve(process.env.GIT_DIR || ".");
const hooksDir = path.dirname(process.argv[1]);

function readStdin() {
  try {
    return fs.readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

function post(url, body, headers, timeoutMs) {
  return new Promise((resolve) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      return resolve("invalid webhook URL");
    }
    const lib = u.protocol === "https:" ? https : http;
    const req = lib.request(
      u,
      { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode >= 200 && res.statusCode < 300 ? null : "HTTP " + res.statusCode));
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within " + timeoutMs + " ms")));
    req.on("error", (err) => resolve(err.message));
    req.end(body);
  });
}

async function main() {
  const input = readStdin();
  const chained = path.join(hooksDir, "${CHAINED_HOOK_NAME}");
  if (fs.existsSync(chained)) spawnSync(chained, [], { input, stdio: ["pipe", "inherit", "inherit"] });
  const updates = input
    .toString("utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length === 3 && p[2].startsWith("refs/"));
  let configs = [];
  const dir = path.join(gitDir, "${HOOK_CONFIG_DIR}");
  try {
    configs = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
  } catch {
    return;
  }
  const repository = path.basename(gitDir === path.resolve(".git") ? process.cwd() : gitDir).replace(/\.git$/, "");
  const jobs = [];
  for (const cfg of configs) {
    for (const [before, after, ref] of updates) {
      const deliveryId = crypto.randomUUID();
      const timestamp = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({ event: "push", deliveryId, timestamp, repository, ref, before, after });
      const signature = "sha256=" + crypto.createHmac("sha256", cfg.secret).update(body).digest("hex");
      const headers = {
        "content-type": "application/json",
        "user-agent": "procode-post-receive",
        "x-procode-event": "push",
        "x-procode-delivery": deliveryId,
        "x-procode-timestamp": String(timestamp),
        "x-procode-signature-256": signature,
      };
      jobs.push(
        post(cfg.url, body, headers, cfg.timeoutMs || 5000).then((err) => {
          if (err) process.stderr.write("procode: webhook delivery for " + ref + " failed (" + err + "); the push itself succeeded\n");
        }),
      );
    }
  }
  await Promise.all(jobs);
}

main()
  .catch((err) => process.stderr.write("procode: webhook delivery failed (" + err.message + "); the push itself succeeded\n"))
  .finally(() => process.exit(0));
`;

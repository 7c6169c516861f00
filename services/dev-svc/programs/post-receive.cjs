// @ts-check
"use strict";
// procode-post-receive: delivers each pushed ref to the Pro-code webhook of every app bound to this
// repository. Always exits 0: a push never fails because the platform is down.
//
// Plain Node.js, CommonJS, no dependencies (it runs inside the git repository, not the service).
// Reads the updated refs git passes on stdin (`<before> <after> <ref>` per line) and the webhooks
// in `<git dir>/procode-hooks/*.json` (`{ url, secret, timeoutMs }`), and POSTs one JSON body per
// ref and webhook, signed like the hosted providers' deliveries:
// `X-Procode-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the webhook's secret,
// `X-Procode-Timestamp` (unix seconds, also in the body), `X-Procode-Delivery` (a uuid, also in the
// body) and `X-Procode-Event: push`. When dev-svc does not answer within the timeout it says so on
// stderr (the pusher sees "remote: ...") and the push still succeeds. A hook that was there before
// keeps running first (`hooks/post-receive.procode-chained`).
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const http = require("http");
const https = require("https");
const { spawnSync } = require("child_process");

const gitDir = path.resolve(process.env.GIT_DIR || ".");
const hooksDir = path.dirname(process.argv[1] ?? ".");

function readStdin() {
  try {
    return fs.readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * POSTs `body`; resolves with null when it was accepted (2xx), else with why not. Never rejects.
 * @param {string} url
 * @param {string} body
 * @param {Record<string, string>} headers
 * @param {number} timeoutMs
 * @returns {Promise<string | null>}
 */
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
      {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? null : "HTTP " + status);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within " + timeoutMs + " ms")));
    req.on("error", (err) => resolve(err.message));
    req.end(body);
  });
}

async function main() {
  const input = readStdin();
  const chained = path.join(hooksDir, "post-receive.procode-chained");
  if (fs.existsSync(chained)) spawnSync(chained, [], { input, stdio: ["pipe", "inherit", "inherit"] });
  const updates = input
    .toString("utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length === 3 && (p[2] ?? "").startsWith("refs/"));
  let configs = [];
  const dir = path.join(gitDir, "procode-hooks");
  try {
    configs = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
  } catch {
    return;
  }
  const repository = path
    .basename(gitDir === path.resolve(".git") ? process.cwd() : gitDir)
    .replace(/\.git$/, "");
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
          if (err)
            process.stderr.write(
              "procode: webhook delivery for " + ref + " failed (" + err + "); the push itself succeeded\n",
            );
        }),
      );
    }
  }
  await Promise.all(jobs);
}

main()
  .catch((err) =>
    process.stderr.write(
      "procode: webhook delivery failed (" + err.message + "); the push itself succeeded\n",
    ),
  )
  .finally(() => process.exit(0));

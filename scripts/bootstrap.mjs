#!/usr/bin/env node
// Set-up from nothing for `npm start` and `npm test`: the pinned pnpm, the dependencies, and
// PostgreSQL and NATS answering (started when they are installed here but not running). Plain Node with no dependencies, because it runs
// before anything is installed. Then it hands over to scripts/<command>.ts.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [command = "start", ...args] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const PNPM_VERSION = pkg.packageManager.split("@")[1];

function say(message) {
  process.stderr.write(`\x1b[36m[procode]\x1b[0m ${message}\n`);
}

function fail(message) {
  process.stderr.write(`\x1b[31m[procode]\x1b[0m ${message}\n`);
  process.exit(1);
}

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19))
    fail(`Node.js 20.19 or newer is needed (this is ${process.version}).`);
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ["--version"], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** pnpm at the version pinned in package.json: global if it is that version, else installed. */
function ensurePnpm() {
  if (versionOf("pnpm") === PNPM_VERSION) return "pnpm";
  const local = path.join(root, ".local", "pnpm", "node_modules", ".bin", "pnpm");
  if (existsSync(local) && versionOf(local) === PNPM_VERSION) return local;
  say(`installing pnpm ${PNPM_VERSION}`);
  try {
    execFileSync("npm", ["install", "-g", "-E", `pnpm@${PNPM_VERSION}`], { stdio: "inherit" });
    if (versionOf("pnpm") === PNPM_VERSION) return "pnpm";
  } catch {
    // no permission for a global install: keep it inside the checkout
  }
  execFileSync(
    "npm",
    ["install", "--prefix", path.join(root, ".local", "pnpm"), "-E", `pnpm@${PNPM_VERSION}`],
    {
      stdio: "inherit",
    },
  );
  if (versionOf(local) !== PNPM_VERSION) fail(`could not install pnpm ${PNPM_VERSION}`);
  return local;
}

function installDependencies(pnpm) {
  try {
    execFileSync(pnpm, ["install", "--frozen-lockfile", "--reporter=append-only"], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
  } catch {
    fail("`pnpm install --frozen-lockfile` failed (see above)");
  }
}

function reachable(host, port, timeoutMs = 1500) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function commandPath(bin) {
  try {
    return execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** PostgreSQL installed here (Debian's cluster tools) but not running: start its newest cluster. */
function startPostgres() {
  if (!commandPath("pg_ctlcluster") || !existsSync("/etc/postgresql")) return false;
  const versions = readdirSync("/etc/postgresql")
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(a) - Number(b));
  const version = versions.at(-1);
  if (!version) return false;
  say(`PostgreSQL is installed but not running: starting cluster ${version}/main`);
  try {
    execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], {
      stdio: "inherit",
    });
    return true;
  } catch {
    return false;
  }
}

/** nats-server installed here but not running: start it with JetStream, in the background. */
function startNats(port) {
  const bin = commandPath("nats-server");
  if (!bin) return false;
  let store = "/var/lib/nats-server";
  try {
    mkdirSync(store, { recursive: true });
  } catch {
    store = path.join(root, ".local", "nats");
    mkdirSync(store, { recursive: true });
  }
  say(`NATS is installed but not running: starting nats-server -js on 127.0.0.1:${port} (store ${store})`);
  const child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  return true;
}

async function waitReachable(host, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

const isLocalHost = (host) => host === "127.0.0.1" || host === "localhost" || host === "::1";

/**
 * PostgreSQL and NATS must answer. One on this machine that is installed but not running is started
 * first; when one still does not answer, say which and how to start it.
 */
async function checkInfrastructure() {
  const databaseUrl = new URL(
    process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/procode",
  );
  const natsUrl = new URL(
    (process.env.NATS_URL ?? process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222").split(",")[0],
  );
  const checks = [
    {
      name: "PostgreSQL",
      host: databaseUrl.hostname,
      port: Number(databaseUrl.port || 5432),
      how: "start it (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start`) or run `docker compose up -d postgres nats`, or set DATABASE_URL",
      start: () => startPostgres(),
    },
    {
      name: "NATS (with JetStream)",
      host: natsUrl.hostname,
      port: Number(natsUrl.port || 4222),
      how: "start it (e.g. `nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server`) or run `docker compose up -d postgres nats`, or set NATS_URL",
      start: () => startNats(Number(natsUrl.port || 4222)),
    },
  ];
  const missing = [];
  for (const c of checks) {
    if (await reachable(c.host, c.port)) continue;
    if (isLocalHost(c.host) && c.start() && (await waitReachable(c.host, c.port, 30_000))) continue;
    missing.push(`${c.name} is not reachable at ${c.host}:${c.port}: ${c.how}`);
  }
  if (missing.length) fail(missing.join("\n"));
}

checkNode();
const pnpm = ensurePnpm();
installDependencies(pnpm);
if (command !== "install") await checkInfrastructure();
if (command === "install" || command === "check") process.exit(0);

const script = path.join(root, "scripts", `${command}.ts`);
if (!existsSync(script)) fail(`unknown command "${command}"`);
const tsx = path.join(root, "node_modules", ".bin", "tsx");
const child = spawn(tsx, [script, ...args], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, PROCODE_PNPM: pnpm },
});
// The child handles Ctrl-C itself (it stops the platform cleanly); this process just waits for it.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

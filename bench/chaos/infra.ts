/**
 * PostgreSQL and NATS servers that the chaos bench starts, owns and breaks: each a child process on
 * a port of its own with its data in a temporary directory, so that restarting PostgreSQL, stopping
 * NATS or wiping the JetStream store never touches the servers other people use.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

import { freePort, sleep } from "../pipelines/lib.js";

export { freePort, sleep };

/** Children still running when this process exits are killed with it (no orphaned servers). */
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function track(child: ChildProcess): Promise<void> {
  children.add(child);
  return new Promise((resolve) =>
    child.once("exit", () => {
      children.delete(child);
      resolve();
    }),
  );
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** PostgreSQL's binaries: PG_BIN, else `pg_config --bindir`, else the newest Debian install. */
function pgBinDir(): string {
  if (process.env["PG_BIN"]) return process.env["PG_BIN"];
  try {
    const dir = execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
    if (existsSync(path.join(dir, "postgres"))) return dir;
  } catch {
    // no pg_config on the PATH
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error("PostgreSQL binaries not found: set PG_BIN to the directory of postgres");
  return path.join(root, versions[0], "bin");
}

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

/** A scratch PostgreSQL cluster (initdb into a temporary directory), restartable at will. */
export class ScratchPostgres {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  restarts = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {}

  static async create(): Promise<ScratchPostgres> {
    const bin = pgBinDir();
    const user = serverUser();
    const dir = mkdtempSync(path.join(os.tmpdir(), "procode-chaos-pg-"));
    if (user) chownSync(dir, user.uid, user.gid);
    execFileSync(
      path.join(bin, "initdb"),
      ["-D", path.join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
      { stdio: "ignore", ...(user ?? {}) },
    );
    const pgsql = new ScratchPostgres(dir, await freePort(), bin, user);
    await pgsql.start();
    return pgsql;
  }

  url(database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const log = createWriteStream(path.join(this.dir, "postgres.log"), { flags: "a" });
    this.child = spawn(
      path.join(this.bin, "postgres"),
      [
        "-D",
        path.join(this.dir, "data"),
        "-p",
        String(this.port),
        "-k",
        this.dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "max_connections=300",
      ],
      { stdio: ["ignore", "pipe", "pipe"], ...(this.user ?? {}) },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exited = track(this.child);
    await waitFor(
      "PostgreSQL",
      async () => {
        const c = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
        await c.connect();
        await c.end();
        return true;
      },
      60_000,
    );
  }

  /**
   * Stops the server: "fast" (SIGINT: sessions are ended, a clean shutdown checkpoint) or
   * "immediate" (SIGQUIT: no checkpoint, crash recovery from the WAL at the next start).
   */
  async stop(mode: "fast" | "immediate"): Promise<void> {
    if (!this.running) return;
    this.child!.kill(mode === "fast" ? "SIGINT" : "SIGQUIT");
    await this.exited;
  }

  async restart(mode: "fast" | "immediate", downMs: number): Promise<void> {
    await this.stop(mode);
    await sleep(downMs);
    await this.start();
    this.restarts++;
  }

  async destroy(keep = false): Promise<void> {
    await this.stop("fast");
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A scratch nats-server with JetStream, its store in a temporary directory. */
export class ScratchNats {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<ScratchNats> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "procode-chaos-nats-"));
    const nats = new ScratchNats(dir, await freePort());
    await nats.start();
    return nats;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get storeDir(): string {
    return path.join(this.dir, "store");
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    const log = createWriteStream(path.join(this.dir, "nats-server.log"), { flags: "a" });
    this.child = spawn(
      process.env["NATS_SERVER_BIN"] ?? "nats-server",
      ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exited = track(this.child);
    await waitFor(
      "nats-server",
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(this.port, "127.0.0.1");
          s.once("connect", () => {
            s.destroy();
            resolve(true);
          });
          s.once("error", () => resolve(false));
        }),
      30_000,
    );
  }

  /** SIGTERM: nats-server shuts down cleanly (its store stays); SIGKILL: as in a crash. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    await this.exited;
  }

  /** The JetStream store is lost: the server dies, its store directory is deleted, it starts empty. */
  async wipe(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.storeDir, { recursive: true, force: true });
    await this.start();
  }

  async destroy(keep = false): Promise<void> {
    await this.stop("SIGTERM");
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

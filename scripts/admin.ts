/**
 * `procode-admin backup <file>` and `procode-admin restore <file>` (npm scripts `backup`, `restore`):
 * the whole platform database, every service's schema, as one consistent snapshot (pg_dump reads it
 * in one transaction) and back into an empty database. The runbook is docs/operations.md "Backup and
 * restore".
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const DATABASE_URL = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/procode";
/** The schemas the platform's services own. */
const SERVICE_SCHEMAS = ["app", "dev", "pipeline", "ops"];

function fail(message: string): never {
  process.stderr.write(`procode-admin: ${message}\n`);
  process.exit(1);
}

function run(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: "utf8" });
  if (r.error) fail(`${bin} could not be run (${r.error.message}); install the PostgreSQL client tools`);
  if (r.status !== 0) fail(`${bin} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** The database name and a URL of the server's maintenance database, from DATABASE_URL. */
function target(): { url: string; name: string; adminUrl: string } {
  if (!URL.canParse(DATABASE_URL)) fail("DATABASE_URL must be a postgres:// URL");
  const url = new URL(DATABASE_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) fail(`DATABASE_URL names no usable database ("${name}")`);
  const admin = new URL(DATABASE_URL);
  admin.pathname = "/postgres";
  return { url: DATABASE_URL, name, adminUrl: admin.toString() };
}

function backup(file: string): void {
  const { url, name } = target();
  if (existsSync(file)) fail(`${file} exists; choose a new file`);
  // One pg_dump is one snapshot of every schema; the custom format restores with pg_restore.
  run("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", `--file=${file}`, `--dbname=${url}`]);
  const listed = run("pg_restore", ["--list", file]);
  const schemas = SERVICE_SCHEMAS.filter((s) => new RegExp(`\\bSCHEMA - ${s}\\b`).test(listed));
  process.stdout.write(`backed up database ${name} (schemas ${schemas.join(", ") || "none"}) to ${file}\n`);
}

function restore(file: string): void {
  const { url, name, adminUrl } = target();
  if (!existsSync(file)) fail(`${file} does not exist`);
  const exists = run("psql", [
    "--no-psqlrc",
    "-tA",
    `--dbname=${adminUrl}`,
    "-c",
    `select 1 from pg_database where datname = '${name}'`,
  ]).trim();
  if (!exists) run("psql", ["--no-psqlrc", "-q", `--dbname=${adminUrl}`, "-c", `create database "${name}"`]);
  const present = run("psql", [
    "--no-psqlrc",
    "-tA",
    `--dbname=${url}`,
    "-c",
    `select string_agg(nspname, ',') from pg_namespace where nspname = any(array['${SERVICE_SCHEMAS.join("','")}'])`,
  ]).trim();
  // Restoring over live data would mix two histories: only into an empty database.
  if (present) fail(`database ${name} already has the schemas ${present}; restore into an empty database`);
  run("pg_restore", [
    "--no-owner",
    "--no-privileges",
    "--exit-on-error",
    "--single-transaction",
    `--dbname=${url}`,
    file,
  ]);
  process.stdout.write(`restored ${file} into database ${name}; start the platform (npm start)\n`);
}

const [command, file] = process.argv.slice(2);
if ((command !== "backup" && command !== "restore") || !file) {
  fail("usage: procode-admin backup <file> | restore <file> (database from DATABASE_URL)");
}
const resolved = path.resolve(file);
if (command === "backup") backup(resolved);
else restore(resolved);

import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import createClient from "openapi-fetch";
import type { paths } from "@procode/contracts/api-types";

/** Where the CLI finds the gateway and its token: flags, then environment, then the config file. */
export interface Connection {
  url: string;
  token: string | undefined;
}

/** `procode login` writes here: $PROCODE_CONFIG, else $XDG_CONFIG_HOME/procode/config.json, else ~/.config/... */
export function configFile(env = process.env): string {
  return (
    env["PROCODE_CONFIG"] ??
    path.join(
      env["XDG_CONFIG_HOME"] ?? path.join(env["HOME"] ?? os.homedir(), ".config"),
      "procode",
      "config.json",
    )
  );
}

/** Exit codes (docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The API refused the call, or the watched pipeline FAILED. */
  FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  CANCELLED: 4,
  WAITING_FOR_PERSON: 5,
  TIMED_OUT: 6,
} as const;

export function resolveConnection(flags: { url?: string; token?: string }, env = process.env): Connection {
  let file: { url?: unknown; token?: unknown } = {};
  const configPath = configFile(env);
  if (existsSync(configPath)) {
    try {
      file = JSON.parse(readFileSync(configPath, "utf8")) as typeof file;
    } catch {
      throw new CliError(`config file ${configPath} is not valid JSON`, EXIT.USAGE);
    }
  }
  const fromFile = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    url: (flags.url ?? env["PROCODE_URL"] ?? fromFile(file.url) ?? "http://127.0.0.1:8080").replace(
      /\/$/,
      "",
    ),
    token: flags.token ?? env["PROCODE_TOKEN"] ?? fromFile(file.token),
  };
}

/** An error the CLI reports and exits with; `code` is the API's error code when it has one. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
    readonly code?: number,
    readonly data: unknown = null,
  ) {
    super(message);
  }
}

/** A client typed by the API document (libs/contracts/openapi.json, generated into libs/contracts/src/api-types.ts). */
export function apiClient(conn: Connection, timeoutMs = 30_000) {
  const client = createClient<paths>({
    baseUrl: conn.url,
    headers: conn.token ? { authorization: `Bearer ${conn.token}` } : {},
    fetch: async (request) => {
      try {
        return await fetch(request, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new CliError(`cannot reach ${conn.url}: ${(err as Error).message}`, EXIT.UNREACHABLE);
      }
    },
  });
  return client;
}
export type ApiClient = ReturnType<typeof apiClient>;

interface ErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** The data of a success answer, or a CliError with the envelope's code and message. */
export async function unwrap<T>(
  call: Promise<{ data?: { data: T }; error?: ErrorBody | undefined; response: Response }>,
): Promise<T> {
  const r = await call;
  if (r.data) return r.data.data;
  if (r.error && typeof r.error.code === "number") {
    throw new CliError(r.error.message, EXIT.FAILED, r.error.code, r.error.data ?? null);
  }
  throw new CliError(`HTTP ${r.response.status} without an envelope from ${r.response.url}`);
}

/**
 * Every item of a list paged by cursor (keyset): from the first page, each next one after the last
 * item of the page before (`nextCursor`), until none follows. Items created or removed meanwhile
 * neither repeat nor push others out of the walk, as they can between numbered pages.
 */
export async function allPagesByCursor<T>(
  fetchPage: (
    cursor: string | undefined,
    pageSize: number,
  ) => Promise<{ items: T[]; total: number; nextCursor: string | null }>,
): Promise<{ items: T[]; total: number }> {
  const items: T[] = [];
  for (let cursor: string | undefined; ;) {
    const p = await fetchPage(cursor, 100);
    items.push(...p.items);
    if (!p.nextCursor || p.items.length === 0) return { items, total: p.total };
    cursor = p.nextCursor;
  }
}

/** Every item of a paged list: `fetchPage(page)` until all `total` items are in. */
export async function allPages<T>(
  fetchPage: (page: number, pageSize: number) => Promise<{ items: T[]; total: number }>,
): Promise<{ items: T[]; total: number }> {
  const items: T[] = [];
  for (let page = 1; ; page++) {
    const p = await fetchPage(page, 100);
    items.push(...p.items);
    if (p.items.length === 0 || items.length >= p.total) return { items, total: p.total };
  }
}

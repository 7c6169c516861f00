import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Where the CLI finds the gateway and its token: flags, then environment, then the config file. */
export interface Connection {
  url: string;
  token: string | undefined;
}

export const CONFIG_FILE = path.join(
  process.env["XDG_CONFIG_HOME"] ?? path.join(os.homedir(), ".config"),
  "procode",
  "config.json",
);

export function resolveConnection(flags: { url?: string; token?: string }, env = process.env): Connection {
  let file: { url?: string; token?: string } = {};
  const configPath = env["PROCODE_CONFIG"] ?? CONFIG_FILE;
  if (existsSync(configPath)) {
    try {
      file = JSON.parse(readFileSync(configPath, "utf8"));
    } catch {
      throw new CliError(`config file ${configPath} is not valid JSON`, 2);
    }
  }
  return {
    url: (flags.url ?? env["PROCODE_URL"] ?? file.url ?? "http://127.0.0.1:8080").replace(/\/$/, ""),
    token: flags.token ?? env["PROCODE_TOKEN"] ?? file.token,
  };
}

/** An error the CLI reports and exits with: 1 for an API error, 2 for usage, 3 for no connection. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly apiCode?: number,
  ) {
    super(message);
  }
}

interface Envelope<T> {
  code: number;
  message: string;
  data: T;
}

/** One REST call through the gateway; a non-zero envelope code becomes a CliError with that code. */
export async function api<T>(
  conn: Connection,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  timeoutMs = 30000,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${conn.url}${pathAndQuery}`, {
      method,
      headers: {
        ...(conn.token ? { authorization: `Bearer ${conn.token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${conn.url}: ${(err as Error).message}`, 3);
  }
  const text = await res.text();
  let env: Envelope<T>;
  try {
    env = JSON.parse(text) as Envelope<T>;
  } catch {
    throw new CliError(
      `${method} ${pathAndQuery}: HTTP ${res.status} without an envelope: ${text.slice(0, 200)}`,
    );
  }
  if (env.code !== 0) throw new CliError(`${env.code} ${env.message}`, 1, env.code);
  return env.data;
}

/** `?a=1&b=x` from the defined entries. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

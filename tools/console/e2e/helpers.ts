import { readFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "@playwright/test";
import { signToken } from "@procode/service-kit";
import { REPO_ROOT } from "@procode/test-kit";
import { STATE_FILE, type PlatformState } from "./platform";

export function platform(): PlatformState {
  return JSON.parse(readFileSync(STATE_FILE, "utf8")) as PlatformState;
}

/** A token for a team, signed with the platform's secret (another team, for isolation checks). */
export function tokenFor(team: string, sub = "e2e"): Promise<string> {
  return signToken({ sub, team }, platform().jwtSecret, { expiresIn: "1h" });
}

/** A REST call through the gateway as team `default` (set-up the page does not need to show). */
export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${platform().gatewayUrl}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${await tokenFor("default", "developer")}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const env = (await res.json()) as { code: number; message: string; data: T };
  if (env.code !== 0) throw new Error(`${method} ${url}: ${res.status} ${env.code} ${env.message}`);
  return env.data;
}

/**
 * Screenshots of each view: into docs/images when UPDATE_SCREENSHOTS=1 (the README shows them),
 * else beside the test report, so a plain test run leaves the work tree as it was.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir =
    process.env["UPDATE_SCREENSHOTS"] === "1"
      ? path.join(REPO_ROOT, "docs", "images")
      : path.join(REPO_ROOT, ".reports", "console-screenshots");
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true, animations: "disabled" });
}

/**
 * Playwright's global setup: the platform as `npm start` runs it, on free ports with a database of
 * its own (test-kit's startNpmPlatform); what the tests need of it goes to a file they read.
 * Returns the teardown.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT, startNpmPlatform } from "@procode/test-kit";

export const STATE_FILE = path.join(REPO_ROOT, ".reports", "console-e2e-platform.json");

export interface PlatformState {
  gatewayUrl: string;
  signInUrl: string;
  jwtSecret: string;
  databaseUrl: string;
  repoRoot: string;
}

export default async function setup(): Promise<() => Promise<void>> {
  const platform = await startNpmPlatform();
  const state: PlatformState = {
    gatewayUrl: platform.gatewayUrl,
    signInUrl: platform.signInUrl,
    jwtSecret: platform.jwtSecret,
    databaseUrl: platform.databaseUrl,
    repoRoot: platform.repoRoot,
  };
  mkdirSync(path.dirname(STATE_FILE), { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify(state));
  return async () => {
    rmSync(STATE_FILE, { force: true });
    await platform.stop();
  };
}

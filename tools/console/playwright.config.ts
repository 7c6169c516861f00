import { defineConfig } from "@playwright/test";
import { CHROMIUM_LAUNCH } from "@procode/test-kit";

/**
 * Browser tests of the console against the real platform, started by `scripts/start.ts` (what
 * `npm start` runs) on free ports with a database of its own (e2e/platform.ts), in Debian's
 * Chromium. One worker: the tests walk one app through its life, as a person would.
 */
export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  globalSetup: "./e2e/platform.ts",
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  outputDir: "../../.reports/console-e2e",
  reporter: [["list"], ["json", { outputFile: "../../.reports/console-e2e.json" }]],
  use: {
    viewport: { width: 1280, height: 800 },
    launchOptions: CHROMIUM_LAUNCH,
    trace: "retain-on-failure",
  },
});

import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

/** Settings every package's tests share (each package's vitest.config.ts uses this). */
export const sharedProject = defineProject({
  test: {
    globalSetup: [fileURLToPath(new URL("./libs/test-kit/src/global-setup.ts", import.meta.url))],
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});

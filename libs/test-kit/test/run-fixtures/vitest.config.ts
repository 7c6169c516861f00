import { defineConfig } from "vitest/config";

// Small test files that pass, fail and skip on purpose, run by run-summary.test.ts to prove how
// `npm test` judges a run. Kept out of every project's `include` so the normal run never sees them.
export default defineConfig({
  test: { include: ["*.fixture.ts"], pool: "forks", hookTimeout: 2000, testTimeout: 2000 },
});

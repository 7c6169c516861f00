import { defineConfig } from "vitest/config";

// One run over every package; parallelism stays modest (two cores, shared with PostgreSQL and NATS).
export default defineConfig({
  test: {
    projects: ["libs/*", "services/*", "tools/*"],
    maxWorkers: Number(process.env["TEST_WORKERS"] ?? 2),
    fileParallelism: true,
    passWithNoTests: true,
  },
});

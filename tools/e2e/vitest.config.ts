import { defineProject, mergeConfig } from "vitest/config";
import { sharedProject } from "../../vitest.shared.js";

export default mergeConfig(
  sharedProject,
  defineProject({ test: { name: "@procode/e2e", testTimeout: 240_000, hookTimeout: 180_000 } }),
);

import react from "@vitejs/plugin-react";
import { defineProject } from "vitest/config";

// Component tests in a DOM (happy-dom); the browser tests under e2e/ run with Playwright instead.
export default defineProject({
  plugins: [react()],
  test: {
    name: "@procode/console",
    environment: "happy-dom",
    include: ["test/**/*.test.{ts,tsx}"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 30_000,
  },
});

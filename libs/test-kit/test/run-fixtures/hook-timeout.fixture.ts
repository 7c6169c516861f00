import { beforeAll, expect, it } from "vitest";

// Waits past the fixture config's hookTimeout, as a platform start does on a loaded machine.
beforeAll(() => new Promise((resolve) => setTimeout(resolve, 4000)));

it("never runs: its hook timed out", () => {
  expect(true).toBe(true);
});

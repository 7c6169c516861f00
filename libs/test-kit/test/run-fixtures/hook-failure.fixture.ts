import { beforeAll, expect, it } from "vitest";

beforeAll(() => {
  throw new Error("the engine did not start");
});

it("never runs: its hook failed", () => {
  expect(true).toBe(true);
});

it("never runs either", () => {
  expect(true).toBe(true);
});

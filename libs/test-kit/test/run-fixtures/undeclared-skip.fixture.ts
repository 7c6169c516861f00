import { expect, it } from "vitest";

it("passes", () => {
  expect(true).toBe(true);
});

it.skip("skipped with no reason", () => {
  expect(true).toBe(true);
});

it.skipIf(process.env["NO_SUCH_VARIABLE"] === undefined)("skipped by a condition with no reason", () => {
  expect(true).toBe(true);
});

it.todo("not written yet");

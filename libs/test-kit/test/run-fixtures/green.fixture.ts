import { beforeAll, expect, it } from "vitest";

let ready = false;
beforeAll(() => {
  ready = true;
});

it("runs after its hook", () => {
  expect(ready).toBe(true);
});

it("adds", () => {
  expect(1 + 1).toBe(2);
});

import { afterAll, describe, expect, it } from "vitest";

describe("a suite whose clean-up fails", () => {
  afterAll(() => {
    throw new Error("close failed");
  });

  it("passes", () => {
    expect(true).toBe(true);
  });
});

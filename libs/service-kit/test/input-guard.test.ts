import { describe, expect, it } from "vitest";
import { findHostileInput, MAX_JSON_DEPTH } from "../src/input-guard.js";

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe("the kit's hostile-input check", () => {
  it.each([
    ["a NUL in a field", { name: "a\u0000b" }, "name", /NUL/],
    ["a NUL deep in the body", { deployConfig: { env: { A: "x\u0000" } } }, "deployConfig.env.A", /NUL/],
    ["an unpaired high surrogate", { name: "x\ud800" }, "name", /unpaired surrogate at character 2/],
    ["an unpaired low surrogate", { list: ["ok", "\udc00"] }, "list.1", /unpaired surrogate/],
    ["a surrogate in a key", { env: { "\ud800": "v" } }, "env", /keys must be valid Unicode/],
    ["a NUL in a key", { "a\u0000": 1 }, "body", /keys must not contain NUL/],
    ["the body itself", "\udfff", "body", /unpaired surrogate/],
  ])("finds %s and names where it is", (_what, value, field, rule) => {
    const found = findHostileInput(value, "body");
    expect(found?.field).toBe(field);
    expect(found?.rule).toMatch(rule);
  });

  it("accepts what the database stores: paired surrogates (emoji), other control characters, deep-enough JSON", () => {
    expect(findHostileInput({ name: "ok 😀", note: "tab\tline\n" }, "body")).toBeNull();
    expect(findHostileInput({ x: nested(MAX_JSON_DEPTH - 1) }, "body")).toBeNull();
    expect(findHostileInput(null, "body")).toBeNull();
    expect(findHostileInput(Buffer.from([0, 0xd8]), "body")).toBeNull();
  });

  it(`refuses nesting past ${MAX_JSON_DEPTH} levels, named by the top-level field (or the body for an array)`, () => {
    expect(findHostileInput({ x: nested(MAX_JSON_DEPTH) }, "body")).toEqual({
      field: "x",
      rule: `is nested deeper than ${MAX_JSON_DEPTH} levels`,
    });
    let array: unknown = [];
    for (let i = 0; i < 100; i++) array = [array];
    expect(findHostileInput(array, "body")?.field).toBe("body");
  });

  it("walks 10,000 and 1,000,000 levels without recursion, in bounded time", () => {
    // JSON.parse itself does not recurse; the check must not either (the old one died at 10,000).
    const deep = JSON.parse(`${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`) as unknown;
    const started = performance.now();
    expect(findHostileInput({ x: nested(10_000) }, "body")?.rule).toMatch(/nested deeper/);
    expect(findHostileInput(deep, "body")?.rule).toMatch(/nested deeper/);
    // Only the first MAX_JSON_DEPTH levels are looked at: far below a second even on a loaded machine.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("looks at a wide body's fields in order and reports the first problem", () => {
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`f${i}`, "ok"]));
    wide["f5000"] = "\u0000";
    wide["f7000"] = "\ud800";
    expect(findHostileInput(wide, "body")?.field).toBe("f5000");
  });
});

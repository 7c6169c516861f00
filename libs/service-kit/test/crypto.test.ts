import { describe, expect, it } from "vitest";
import { hmacSha256Hex, KeyRing, safeEqual } from "../src/crypto.js";

describe("KeyRing (AES-256-GCM with key ids)", () => {
  it("seals with the first key and opens what it sealed", () => {
    const ring = new KeyRing(`${KeyRing.generateSpec("k2")},${KeyRing.generateSpec("k1")}`);
    const sealed = ring.seal("glpat-secret-token");
    expect(sealed.keyId).toBe("k2");
    expect(sealed.ciphertext).not.toContain("glpat");
    expect(ring.open(sealed)).toBe("glpat-secret-token");
  });

  it("opens secrets sealed under an older key and reseals them under the active one", () => {
    const old = KeyRing.generateSpec("k1");
    const before = new KeyRing(old);
    const sealed = before.seal("token-1");
    const after = new KeyRing(`${KeyRing.generateSpec("k2")},${old}`);
    const resealed = after.reseal(sealed);
    expect(resealed.keyId).toBe("k2");
    expect(after.open(resealed)).toBe("token-1");
  });

  it("rejects a tampered ciphertext", () => {
    const ring = new KeyRing(KeyRing.generateSpec());
    const sealed = ring.seal("abc");
    const raw = Buffer.from(sealed.ciphertext, "base64");
    raw[raw.length - 1]! ^= 1;
    expect(() => ring.open({ ...sealed, ciphertext: raw.toString("base64") })).toThrow(
      "unable to authenticate data",
    );
  });

  it("names the problem when a key is malformed", () => {
    expect(() => new KeyRing("k1:short")).toThrow(/must be 32/);
    expect(() => new KeyRing("nokey")).toThrow(/<id>:<base64/);
  });
});

describe("HMAC helpers", () => {
  it("computes GitHub's published test vector", () => {
    expect(hmacSha256Hex("It's a Secret to Everybody", "Hello, World!")).toBe(
      "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
  });
  it("compares in constant time and handles different lengths", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });
});

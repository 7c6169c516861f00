import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthError, createTokenVerifier, signToken } from "../src/auth.js";

const secret = "a-secret-of-enough-length";
const verify = createTokenVerifier({ jwtSecret: secret });

/** An HS256 token with exactly these claims (no exp unless given). */
async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe("the kit's claims check", () => {
  it("gives the actor of a token with a usable team, subject and expiry", async () => {
    await expect(verify(await signToken({ sub: "alice", team: "default" }, secret))).resolves.toEqual({
      sub: "alice",
      team: "default",
    });
    const edge = await token({ sub: "s".repeat(200), team: "t".repeat(100), exp: inAnHour() });
    await expect(verify(edge)).resolves.toEqual({ sub: "s".repeat(200), team: "t".repeat(100) });
  });

  it.each([
    ["a team of 101 characters", { sub: "a", team: "t".repeat(101) }, /claim team must be text of 1-100/],
    ["an empty team", { sub: "a", team: "" }, /claim team must be text of 1-100/],
    ["a team that is a number", { sub: "a", team: 7 }, /claim team must be text/],
    ["no team", { sub: "a" }, /claim team/],
    ["a NUL in the team", { sub: "a", team: "t\u0000" }, /claim team must not contain control/],
    ["a line break in the team", { sub: "a", team: "t\nx" }, /claim team must not contain control/],
    ["an unpaired surrogate in the team", { sub: "a", team: "t\ud800" }, /unpaired surrogates/],
    ["a subject of 201 characters", { sub: "s".repeat(201), team: "t" }, /claim sub must be text of 1-200/],
    ["a DEL in the subject", { sub: "a\u007f", team: "t" }, /claim sub must not contain control/],
  ])("refuses %s", async (_what, claims, message) => {
    const err = await verify(await token({ ...claims, exp: inAnHour() })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(message);
  });

  it("refuses a token without exp, which would never expire", async () => {
    await expect(verify(await token({ sub: "a", team: "t" }))).rejects.toThrow(/no expiry \(exp\)/);
  });
});

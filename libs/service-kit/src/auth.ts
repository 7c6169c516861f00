import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Actor } from "@procode/contracts";

/**
 * Bearer-token verification: HS256 with a shared secret, or a JWKS URL in production.
 * Claims: `sub` (who) and `team` (whose apps the caller may see and act on).
 */
export interface AuthOptions {
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export class AuthError extends Error {
  override name = "AuthError";
}

export type TokenVerifier = (token: string) => Promise<Actor>;

const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export function createTokenVerifier(opts: AuthOptions): TokenVerifier {
  const key = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30000 })
    : undefined;
  const secret = opts.jwtSecret ? new TextEncoder().encode(opts.jwtSecret) : undefined;
  if (!key && !secret) throw new Error("auth needs a JWT secret or a JWKS URL");
  const verifyOpts = {
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  };
  // Verifying a signature costs a few hundred microseconds; a token seen before is answered from a
  // small cache until it expires (at most a minute, so a key removed from a JWKS stops being honoured
  // soon). Only valid tokens are cached.
  const verified = new Map<string, { actor: Actor; until: number }>();
  return async (token) => {
    const now = Date.now();
    const hit = verified.get(token);
    if (hit && hit.until > now) return hit.actor;
    let payload: JWTPayload;
    try {
      payload = key
        ? (await jwtVerify(token, key, { ...verifyOpts, algorithms: ["RS256", "ES256", "EdDSA"] })).payload
        : (await jwtVerify(token, secret!, { ...verifyOpts, algorithms: ["HS256"] })).payload;
    } catch (err) {
      throw new AuthError(`invalid token: ${(err as Error).message}`);
    }
    const actor = actorOfClaims(payload);
    // exp is required (actorOfClaims), so a token is never honoured past its expiry.
    const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, payload.exp! * 1000);
    if (verified.size >= VERIFIED_TOKEN_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, { actor, until });
    return actor;
  };
}

/** The claims a caller is known by, and how long each may be (the columns that record them). */
const CLAIM_LENGTHS = { team: 100, sub: 200 } as const;

/**
 * The caller a verified token names, once its claims are fit to use (docs/api.md, "Tokens"): `team`
 * of 1-100 and `sub` of 1-200 characters, text without control characters (NUL included) or unpaired
 * surrogates, and an `exp` (a token without one would never expire). Anything else is refused here,
 * as 401, rather than failing later where the claim is stored or compared.
 */
function actorOfClaims(payload: JWTPayload): Actor {
  const claim = (name: keyof typeof CLAIM_LENGTHS): string => {
    const value = payload[name];
    const max = CLAIM_LENGTHS[name];
    if (typeof value !== "string" || value.length === 0 || value.length > max) {
      throw new AuthError(`token claim ${name} must be text of 1-${max} characters`);
    }
    if (/[\p{Cc}\p{Cs}]/u.test(value)) {
      throw new AuthError(`token claim ${name} must not contain control characters or unpaired surrogates`);
    }
    return value;
  };
  const actor = { sub: claim("sub"), team: claim("team") };
  if (typeof payload.exp !== "number") throw new AuthError("token has no expiry (exp)");
  return actor;
}

/** Signs an HS256 token (npm start prints one; tests and benches use it). */
export async function signToken(
  actor: Actor,
  secret: string,
  opts: { expiresIn?: string; issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({ team: actor.team })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(actor.sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? "12h");
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseConfig, ConfigError, loadConfig, requireAuthConfig } from "../src/config.js";

const Schema = BaseConfig.extend({ PORT: z.coerce.number().int().default(8081) }).superRefine(
  requireAuthConfig,
);

describe("loadConfig", () => {
  it("applies defaults", () => {
    const c = loadConfig(Schema, { AUTH_JWT_SECRET: "0123456789abcdef" });
    expect(c.PORT).toBe(8081);
    expect(c.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/procode");
    expect(c.ENV_NAME).toBe("procode");
  });

  it("names every bad variable", () => {
    let error: unknown;
    try {
      loadConfig(Schema, { PORT: "not-a-port", ENV_NAME: "Bad Name", AUTH_JWT_SECRET: "0123456789abcdef" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PORT/);
    expect((error as Error).message).toMatch(/ENV_NAME/);
  });

  it("requires a way to verify tokens", () => {
    expect(() => loadConfig(Schema, {})).toThrow(/AUTH_JWT_SECRET: set AUTH_JWT_SECRET or AUTH_JWKS_URL/);
  });
});

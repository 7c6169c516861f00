import { describe, expect, it } from "vitest";
import { ConfigError, KeyRing, loadConfig } from "@procode/service-kit";
import { Config } from "../src/config.js";

const base = { AUTH_JWT_SECRET: "0123456789abcdef0123", ENCRYPTION_KEYS: KeyRing.generateSpec("k1") };

describe("app-svc configuration", () => {
  it("has defaults for everything but auth and the key ring", () => {
    const c = loadConfig(Config, base);
    expect(c).toMatchObject({
      PORT: 8081,
      PUBLIC_BASE_URL: "http://127.0.0.1:8080",
      GIT_ALLOW_HTTP: false,
      GIT_ALLOWED_HOSTS: [],
      GIT_PROBE_TIMEOUT_MS: 5000,
    });
    expect(c.LOCAL_GIT_ROOT).toBeUndefined();
  });

  it("parses the probe settings", () => {
    const c = loadConfig(Config, {
      ...base,
      GIT_ALLOW_HTTP: "true",
      GIT_ALLOWED_HOSTS: " gitlab.internal , 10.0.0.5:8443,",
      PUBLIC_BASE_URL: "https://platform.example.com/",
      LOCAL_GIT_ROOT: "/srv/git",
    });
    expect(c).toMatchObject({
      GIT_ALLOW_HTTP: true,
      GIT_ALLOWED_HOSTS: ["gitlab.internal", "10.0.0.5:8443"],
      PUBLIC_BASE_URL: "https://platform.example.com",
      LOCAL_GIT_ROOT: "/srv/git",
    });
  });

  it.each([
    [{ ENCRYPTION_KEYS: undefined }, "ENCRYPTION_KEYS"],
    [{ ENCRYPTION_KEYS: "k1:c2hvcnQ=" }, 'ENCRYPTION_KEYS: key "k1" is 5 bytes, must be 32'],
    [{ ENCRYPTION_KEYS: "no-colon" }, "ENCRYPTION_KEYS"],
    [{ GIT_ALLOW_HTTP: "maybe" }, "GIT_ALLOW_HTTP: must be true or false"],
    [{ GIT_PROBE_TIMEOUT_MS: "10" }, "GIT_PROBE_TIMEOUT_MS"],
    [{ PUBLIC_BASE_URL: "ftp://x" }, "PUBLIC_BASE_URL: must be an http(s) URL"],
    [{ LOCAL_GIT_ROOT: "relative/dir" }, "LOCAL_GIT_ROOT: must be an absolute path"],
  ])("stops with a message naming the bad variable (%o)", (patch, expected) => {
    const env = { ...base, ...patch } as Record<string, string | undefined>;
    expect(() => loadConfig(Config, env)).toThrow(ConfigError);
    expect(() => loadConfig(Config, env)).toThrow(expected);
  });

  it("never echoes key material in its message", () => {
    const secretish = Buffer.alloc(31, 7).toString("base64");
    const refusal = (() => {
      try {
        loadConfig(Config, { ...base, ENCRYPTION_KEYS: `k1:${secretish}` });
        return null;
      } catch (err) {
        return err;
      }
    })();
    // It did refuse the key, naming the variable and the key's id, and nothing of the key itself.
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as Error).message).toContain('ENCRYPTION_KEYS: key "k1" is 31 bytes, must be 32');
    expect((refusal as Error).message).not.toContain(secretish);
  });
});

import { describe, expect, it } from "vitest";
import { deploymentRequestKey } from "../src/services/request-key.js";

describe("the idempotency key of a deployment's create", () => {
  it("is the same for the same attempt whoever computes it, a UUID, and differs with anything that makes another deployment", () => {
    const key = deploymentRequestKey("procode", 42, 1, "registry.local/procode/agent:v1.0.0");
    expect(key).toBe(deploymentRequestKey("procode", 42, 1, "registry.local/procode/agent:v1.0.0"));
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const others = [
      deploymentRequestKey("staging", 42, 1, "registry.local/procode/agent:v1.0.0"),
      deploymentRequestKey("procode", 43, 1, "registry.local/procode/agent:v1.0.0"),
      deploymentRequestKey("procode", 42, 2, "registry.local/procode/agent:v1.0.0"),
      deploymentRequestKey("procode", 42, 1, "registry.local/procode/agent:v1.0.1"),
    ];
    expect(new Set([key, ...others]).size).toBe(5);
  });
});

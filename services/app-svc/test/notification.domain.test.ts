import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { afterAttempt, notificationsOfIteration, notificationsOfPhase } from "../src/domain/notification.js";
import { generateWebhookSecret, signWebhook } from "../src/integrations/webhook-sender.js";

describe("Standard Webhooks signing", () => {
  it("signs so that the standardwebhooks library verifies the delivery", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ type: "pipeline.failed", timestamp: "2026-12-04T10:00:00.000Z", data: {} });
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": signWebhook(secret, "msg_1", ts, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("makes the same signature as the library for the same id, time and body", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const at = new Date("2026-12-04T10:00:00Z");
    const body = '{"type":"pipeline.started"}';
    expect(signWebhook(secret, "msg_abc", Math.floor(at.getTime() / 1000), body)).toBe(
      new Webhook(secret).sign("msg_abc", at, body),
    );
  });

  it("is refused by the library when the body, the id or the secret differ", () => {
    const secret = generateWebhookSecret();
    const ts = Math.floor(Date.now() / 1000);
    const signature = signWebhook(secret, "msg_1", ts, "{}");
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": signature,
    };
    expect(() => new Webhook(secret).verify('{"a":1}', headers)).toThrow();
    expect(() => new Webhook(secret).verify("{}", { ...headers, "webhook-id": "msg_2" })).toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify("{}", headers)).toThrow();
  });
});

describe("what the platform's events notify", () => {
  const phase = {
    pipelineId: 9,
    parentId: 3,
    iterationId: 4,
    iterationPhaseId: 5,
    appId: 1,
    state: "SUCCESS" as const,
    failedStage: null,
    error: null,
    rollback: false,
    sequence: 2,
  };
  const types = (n: { type: string }[]) => n.map((x) => x.type);

  it.each([
    ["PENDING", null, []],
    ["RUNNING", null, ["pipeline.started"]],
    ["SUCCESS", null, ["pipeline.succeeded", "deployment.succeeded"]],
    ["FAILED", "BUILD", ["pipeline.failed"]],
    ["FAILED", "DEPLOY", ["pipeline.failed", "deployment.failed"]],
    ["CANCELLED", null, ["pipeline.cancelled"]],
  ] as const)("a phase pipeline %s (failed stage %s) notifies %j", (status, failedStage, expected) => {
    expect(types(notificationsOfPhase({ ...phase, status, failedStage }))).toEqual(expected);
  });

  const iteration = {
    iterationId: 4,
    appId: 1,
    pipelineId: 3,
    phasePipelineId: null,
    iterationPhaseId: null,
    sequence: 1,
  };
  it.each([
    ["DEVELOPING", "DEVELOPING", ["iteration.waiting"]],
    ["STAGING", "STAGING", ["iteration.waiting"]],
    ["RELEASE", "RELEASING", []],
    ["RELEASED", "RELEASED", ["iteration.released"]],
    ["RELEASED", "FAILED", []],
    ["CANCELLED", "FAILED", ["pipeline.cancelled"]],
  ] as const)("an iteration in %s (%s) notifies %j", (phaseName, iterationStatus, expected) => {
    expect(types(notificationsOfIteration({ ...iteration, phase: phaseName, iterationStatus }))).toEqual(
      expected,
    );
  });
});

describe("after an attempt", () => {
  const policy = { baseMs: 1000, capMs: 60_000 };
  const now = 1_000_000;

  it("a 2xx delivers", () => {
    expect(
      afterAttempt({ delivered: true, attempts: 1, nowMs: now, giveUpAtMs: now, policy, random: 0.5 }),
    ).toEqual({
      status: "DELIVERED",
    });
  });

  it("retries after a delay that doubles per attempt, spread by jitter, up to the cap", () => {
    const at = (attempts: number, random: number) =>
      afterAttempt({ delivered: false, attempts, nowMs: now, giveUpAtMs: now + 86_400_000, policy, random });
    expect(at(1, 0.5)).toEqual({ status: "PENDING", nextAttemptAtMs: now + 1000 });
    expect(at(3, 0.5)).toEqual({ status: "PENDING", nextAttemptAtMs: now + 4000 });
    expect(at(3, 0)).toEqual({ status: "PENDING", nextAttemptAtMs: now + 2000 });
    expect(at(20, 0.5)).toEqual({ status: "PENDING", nextAttemptAtMs: now + 60_000 });
  });

  it("is FAILED when the next attempt would fall after the retry window", () => {
    expect(
      afterAttempt({
        delivered: false,
        attempts: 5,
        nowMs: now,
        giveUpAtMs: now + 10_000,
        policy,
        random: 0.5,
      }),
    ).toEqual({ status: "FAILED" });
  });
});

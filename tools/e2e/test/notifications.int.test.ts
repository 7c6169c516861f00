import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  App,
  CreatedNotification,
  Iteration,
  NotificationBody,
  NotificationDelivery,
  Page,
  Pipeline,
  ReleaseResponse,
  RepoBinding,
} from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  startPlatform,
  WebhookReceiver,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { call, ok as okAt } from "./support/client.js";

/**
 * Notifications over the real platform, every call through the gateway: a release's events reach a
 * receiver that was down while they happened, each delivery once and signed (verified with the
 * standardwebhooks library); targets the SSRF rules refuse are refused at subscribe; another team
 * sees none of it.
 */

let infra: TestInfra;
let platform: Platform;
let receiver: WebhookReceiver;
let red: string;
let blue: string;

const ok = <T>(token: string, method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

beforeAll(async () => {
  infra = await createTestInfra("e2e_notify");
  receiver = await new WebhookReceiver().start();
  platform = await startPlatform(infra, {
    env: {
      "app-svc": {
        NOTIFICATION_RETRY_BASE_MS: "200",
        NOTIFICATION_RETRY_MAX_MS: "1000",
        NOTIFICATION_POLL_MS: "100",
      },
      "pipeline-engine": { RETRY_BASE_MS: "200", RETRY_MAX_MS: "1000", STAGE_REPUBLISH_MS: "3000" },
      "ops-module": { DEFAULT_DURATION_MS: "300" },
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" },
    },
  });
  red = await signToken({ sub: "rita", team: "red" }, platform.jwtSecret);
  blue = await signToken({ sub: "bert", team: "blue" }, platform.jwtSecret);
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", "notified.git");
});

afterAll(async () => {
  await platform?.stop();
  await receiver?.stop();
  await infra?.cleanup();
});

describe("notifications through the gateway", () => {
  let appId: number;
  let subscription: CreatedNotification;
  let blueAppId: number;

  it("subscribes red's app (secret shown once); SSRF targets are refused with 1001 naming url", async () => {
    const app = await ok<App>(red, "POST", "/apps", {
      name: "notified",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: "local://notified",
      scaffoldTemplate: "python-agent",
    });
    appId = app.id;
    subscription = await ok<CreatedNotification>(red, "POST", `/apps/${appId}/notifications`, {
      url: receiver.url("/red"),
      eventTypes: [
        "pipeline.started",
        "pipeline.succeeded",
        "deployment.succeeded",
        "iteration.waiting",
        "iteration.released",
      ],
    });
    expect(subscription.secret).toMatch(/^whsec_/);
    receiver.verifyWith("/red", subscription.secret);

    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "https://10.0.0.5/hook",
      "http://192.168.1.1/x",
    ]) {
      const r = await call(platform.gatewayUrl, "POST", `/apps/${appId}/notifications`, {
        token: red,
        body: { url, eventTypes: ["pipeline.failed"] },
      });
      expect(r.status, url).toBe(400);
      expect(r.code).toBe(1001);
      expect(r.message).toMatch(/^url: .*(private|reserved)/);
    }
    const listed = await ok<Page<{ id: number }>>(red, "GET", `/apps/${appId}/notifications`);
    expect(listed.items.map((n) => n.id)).toEqual([subscription.id]);
    expect(JSON.stringify(listed)).not.toContain(subscription.secret);
  });

  it("shows another team nothing of red's subscriptions, and tells blue's subscriber nothing of red's events", async () => {
    for (const [method, url] of [
      ["GET", `/apps/${appId}/notifications`],
      ["GET", `/apps/${appId}/notifications/${subscription.id}/deliveries`],
      ["DELETE", `/apps/${appId}/notifications/${subscription.id}`],
    ] as const) {
      const r = await call(platform.gatewayUrl, method, url, { token: blue });
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(r.code).toBe(1004);
    }
    const blueApp = await ok<App>(blue, "POST", "/apps", { name: "blue-app", devMode: "low-code" });
    blueAppId = blueApp.id;
    const blueSub = await ok<CreatedNotification>(blue, "POST", `/apps/${blueAppId}/notifications`, {
      url: receiver.url("/blue"),
      eventTypes: ["pipeline.started", "pipeline.succeeded", "iteration.waiting", "iteration.released"],
    });
    receiver.verifyWith("/blue", blueSub.secret);
    // Blue's subscription id on red's app is not found either.
    const r = await call(
      platform.gatewayUrl,
      "GET",
      `/apps/${appId}/notifications/${blueSub.id}/deliveries`,
      {
        token: red,
      },
    );
    expect(r.code).toBe(1009);
  });

  it("delivers a release's events once each, signed, to a receiver that was down while they happened", async () => {
    receiver.answerWith((path) => (path === "/red" ? "reset" : 503));
    await eventually(
      async () => (await ok<RepoBinding>(red, "GET", `/apps/${appId}/repo`)).scaffold.state === "PUSHED",
      "the scaffold pushed",
      60_000,
      200,
    );
    const iteration = await ok<Iteration>(red, "POST", "/iterations", {
      appId,
      name: "first",
      sourceBranch: "main",
    });
    await eventually(
      async () => (await ok<Iteration>(red, "GET", `/iterations/${iteration.id}`)).status === "DEVELOPING",
      "DEVELOPING",
      30_000,
      200,
    );
    for (const targetPhase of ["TESTING", "STAGING"]) {
      await ok(red, "POST", `/iterations/${iteration.id}/proceed`, { targetPhase });
    }
    const release = await ok<ReleaseResponse>(red, "POST", `/iterations/${iteration.id}/release`, {
      tag: "v1.0.0",
    });
    await eventually(
      async () => (await ok<Pipeline>(red, "GET", `/pipelines/${release.pipelineId}`)).status === "SUCCESS",
      "the release to succeed",
      120_000,
      200,
    );
    await eventually(
      async () => (await ok<Iteration>(red, "GET", `/iterations/${iteration.id}`)).status === "RELEASED",
      "RELEASED",
      30_000,
      200,
    );
    // Every delivery was tried while the receiver was down, and none was delivered.
    const pending = await eventually(async () => {
      const log = await ok<Page<NotificationDelivery>>(
        red,
        "GET",
        `/apps/${appId}/notifications/${subscription.id}/deliveries`,
      );
      return log.total === 7 && log.items.every((d) => d.attempts >= 1) ? log : null;
    }, "seven deliveries, each tried");
    expect(pending.items.every((d) => d.status === "PENDING" && d.lastError !== null)).toBe(true);
    expect(receiver.delivered("/red")).toHaveLength(0);

    receiver.answerWith(204);
    const log = await eventually(
      async () => {
        const l = await ok<Page<NotificationDelivery>>(
          red,
          "GET",
          `/apps/${appId}/notifications/${subscription.id}/deliveries`,
        );
        return l.items.every((d) => d.status === "DELIVERED") ? l : null;
      },
      "every delivery delivered",
      30_000,
      200,
    );
    const delivered = receiver.delivered("/red");
    expect(delivered).toHaveLength(7);
    expect(new Set(delivered.map((d) => d.id))).toEqual(new Set(log.items.map((d) => d.id)));
    const bodies = delivered.map((d) => d.verified as NotificationBody);
    expect(bodies.map((b) => b.type).sort()).toEqual([
      "deployment.succeeded",
      "iteration.released",
      "iteration.waiting",
      "iteration.waiting",
      "iteration.waiting",
      "pipeline.started",
      "pipeline.succeeded",
    ]);
    expect(bodies.every((b) => b.data.appId === appId)).toBe(true);
    expect(
      bodies
        .filter((b) => b.type === "iteration.waiting")
        .map((b) => b.data.iterationPhase)
        .sort(),
    ).toEqual(["DEVELOPING", "STAGING", "TESTING"]);
    expect(bodies.find((b) => b.type === "pipeline.succeeded")!.data).toMatchObject({
      pipelineId: release.pipelineId,
      iterationId: iteration.id,
      pipelineStatus: "SUCCESS",
    });
    expect(log.items.every((d) => d.lastStatusCode === 204 && d.deliveredAt !== null)).toBe(true);
    expect(receiver.received.filter((r) => r.path === "/blue")).toHaveLength(0);
  });
});

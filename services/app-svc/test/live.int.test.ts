import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveTeamToken, streamName, type CreatedNotification } from "@procode/contracts";
import {
  createTestInfra,
  eventually,
  outboxDrained,
  streamMessages,
  WebhookReceiver,
  type TestInfra,
} from "@procode/test-kit";
import { GitHttpServer, GitRepos } from "./support/git-http-server.js";
import { call, publishPhaseStatus, startAppSvc, tokenFor, type AppRuntime } from "./support/harness.js";

/**
 * app-svc's live events (docs/api.md, "Live events"): `live.app.v1` for an app created or
 * reconfigured, `live.notification_delivery.v1` for each notification delivery written or attempted,
 * each in the transaction of the change, on its team's subject, with no secret.
 */

let infra: TestInfra;
let repos: GitRepos;
let git: GitHttpServer;
let receiver: WebhookReceiver;
let svc: AppRuntime;
let red: string;

beforeAll(async () => {
  infra = await createTestInfra("app-svc-live");
  repos = await GitRepos.create();
  await repos.bare("team/agent.git");
  git = await new GitHttpServer(repos.root).start();
  receiver = await new WebhookReceiver().start();
  ({ runtime: svc } = await startAppSvc(infra, {
    GIT_ALLOW_HTTP: "true",
    GIT_ALLOWED_HOSTS: `127.0.0.1:${git.port}`,
    GIT_PROBE_TIMEOUT_MS: "3000",
    NOTIFICATION_ALLOW_HTTP: "true",
    NOTIFICATION_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
    NOTIFICATION_RETRY_BASE_MS: "100",
    NOTIFICATION_RETRY_MAX_MS: "200",
    NOTIFICATION_RETRY_WINDOW_MS: "6000",
    NOTIFICATION_TIMEOUT_MS: "1000",
    NOTIFICATION_POLL_MS: "100",
  }));
  red = await tokenFor(infra, "red", "rita");
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await receiver?.stop();
  await git?.stop();
  await repos?.remove();
  await infra?.cleanup();
});

/** An app's live events of `type` as the LIVE stream holds them, with their subjects' team token. */
async function liveEvents(type: string, appId: number) {
  await outboxDrained(infra.databaseUrl, "app");
  return (
    await streamMessages<{ data: Record<string, unknown> }>(
      infra.natsUrl,
      streamName(infra.envName, "LIVE"),
      `${infra.envName}.${type}.`,
    )
  )
    .filter((m) => m.message.data["appId"] === appId)
    .map((m) => ({ team: m.subject.split(".").at(-1), ...m.message.data }));
}

describe("live.app.v1", () => {
  it("is published when an app is created and when its configuration changes, not for a PUT that changes nothing", async () => {
    const created = await call(svc, red, "POST", "/apps", {
      name: "live-agent",
      devMode: "pro-code",
      techStack: "python",
      gitRepoUrl: `${git.base}/team/agent.git`,
      credentialId: "cred-1",
    });
    expect(created.body.code).toBe(0);
    const appId = created.body.data.id as number;
    const team = liveTeamToken("red");
    expect(await liveEvents("live.app.v1", appId)).toEqual([
      { team, appId, name: "live-agent", devMode: "pro-code", revision: 1 },
    ]);

    const put = (body: unknown) => call(svc, red, "PUT", `/apps/${appId}/procode-config`, body);
    const changed = await put({ concurrency: "REJECT" });
    expect(changed.body).toMatchObject({ code: 0, data: { concurrency: "REJECT" } });
    expect((await put({ concurrency: "REJECT" })).body.code).toBe(0);
    expect(await liveEvents("live.app.v1", appId)).toEqual([
      { team, appId, name: "live-agent", devMode: "pro-code", revision: 1 },
      { team, appId, name: "live-agent", devMode: "pro-code", revision: 2 },
    ]);
  });
});

describe("live.notification_delivery.v1", () => {
  it("is published when a delivery is written, then for each attempt: retried, then delivered", async () => {
    const created = await call(svc, red, "POST", "/apps", { name: "live-notified", devMode: "low-code" });
    const appId = created.body.data.id as number;
    const sub = await call<CreatedNotification>(svc, red, "POST", `/apps/${appId}/notifications`, {
      url: receiver.url("/live"),
      eventTypes: ["pipeline.started"],
    });
    expect(sub.body.code).toBe(0);
    const subscriptionId = sub.body.data.id;
    receiver.verifyWith("/live", sub.body.data.secret);
    let answered = 0;
    receiver.answerWith((path) => (path === "/live" && ++answered === 1 ? 500 : 204));

    await publishPhaseStatus(svc, infra, { appId, status: "RUNNING" });
    await eventually(() => receiver.delivered("/live").length === 1, "the delivery, after a retry", 15_000);

    const events = await liveEvents("live.notification_delivery.v1", appId);
    const deliveryId = (events[0] as Record<string, unknown> | undefined)?.["deliveryId"];
    expect(deliveryId).toMatch(/^msg_/);
    const team = liveTeamToken("red");
    expect(events).toEqual([
      { team, appId, subscriptionId, deliveryId, status: "PENDING", attempts: 0 },
      { team, appId, subscriptionId, deliveryId, status: "PENDING", attempts: 1 },
      { team, appId, subscriptionId, deliveryId, status: "DELIVERED", attempts: 2 },
    ]);
    // No target, body or secret travels.
    expect(JSON.stringify(events)).not.toContain(receiver.url("/live"));
  });
});

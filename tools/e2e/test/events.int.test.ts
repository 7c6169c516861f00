import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App, Iteration, ReleaseResponse, RepoBinding, StageLogs } from "@procode/contracts";
import { signToken } from "@procode/service-kit";
import {
  createTestInfra,
  eventually,
  git,
  startPlatform,
  type Platform,
  type TestInfra,
} from "@procode/test-kit";
import { call, ok as okAt } from "./support/client.js";
import { Subscriber, type Received } from "./support/events.js";

/**
 * `GET /events` over the real platform, through the gateway: a release's live events reach the
 * team's clients in order, a client that drops mid-release resumes with Last-Event-ID and misses
 * nothing, another team sees none of them (nor an app's repository, app or webhook delivery events),
 * the filters hold, and a quiet stream sends heartbeats.
 */

let infra: TestInfra;
let platform: Platform;
let mine: string;
let theirs: string;
const HEARTBEAT_MS = 300;

const as = <T = unknown>(token: string, method: string, url: string, body?: unknown) =>
  call<T>(platform.gatewayUrl, method, url, { token, ...(body === undefined ? {} : { body }) });

const ok = <T>(token: string, method: string, url: string, body?: unknown) =>
  okAt<T>(platform.gatewayUrl, token, method, url, body);

const events = (token: string, query = "", headers: Record<string, string> = {}) =>
  Subscriber.open(`${platform.gatewayUrl}/events${query}`, { authorization: `Bearer ${token}`, ...headers });

/** A bound pro-code app on a new LOCAL repository with the scaffold, and an iteration at STAGING. */
async function appAtStaging(token: string, name: string): Promise<{ appId: number; iterationId: number }> {
  git(platform.repoRoot, "init", "--quiet", "--bare", "--initial-branch=main", `${name}.git`);
  const app = await ok<App>(token, "POST", "/apps", {
    name,
    devMode: "pro-code",
    techStack: "python",
    gitRepoUrl: `local://${name}`,
    scaffoldTemplate: "python-agent",
  });
  await eventually(
    async () => {
      const r = await ok<RepoBinding>(token, "GET", `/apps/${app.id}/repo`);
      return r.state === "BOUND" && r.scaffold.state === "PUSHED";
    },
    `app ${name} bound`,
    60_000,
    200,
  );
  const it = await ok<Iteration>(token, "POST", "/iterations", { appId: app.id, name, sourceBranch: "main" });
  await eventually(
    async () => (await ok<Iteration>(token, "GET", `/iterations/${it.id}`)).status === "DEVELOPING",
    `iteration ${it.id} DEVELOPING`,
    30_000,
    200,
  );
  for (const targetPhase of ["TESTING", "STAGING"]) {
    await ok(token, "POST", `/iterations/${it.id}/proceed`, { targetPhase });
  }
  return { appId: app.id, iterationId: it.id };
}

const ids = (list: Received[]) => list.map((e) => e.id);
const isFinal = (pipelineId: number) => (e: Received) =>
  e.event === "pipeline" && e.data["pipelineId"] === pipelineId && e.data["status"] === "SUCCESS";

beforeAll(async () => {
  infra = await createTestInfra("e2e_events");
  platform = await startPlatform(infra, {
    env: {
      gateway: { EVENTS_HEARTBEAT_MS: String(HEARTBEAT_MS) },
      "ops-module": { DEFAULT_DURATION_MS: "300" },
      "dev-svc": { BIND_POLL_MS: "200", BIND_RETRY_BASE_MS: "500" },
    },
  });
  mine = await signToken({ sub: "lena", team: "live.team*>" }, platform.jwtSecret);
  theirs = await signToken({ sub: "otto", team: "other team" }, platform.jwtSecret);
});

afterAll(async () => {
  await platform?.stop();
  await infra?.cleanup();
});

describe("GET /events", () => {
  let appId: number;
  let pipelineId: number;
  let iterationId: number;
  let reference: Subscriber;
  let stranger: Subscriber;
  let theirApp: number;

  it("answers 401 without a token, 1001 naming a bad filter, and a stream with the headers a proxy needs", async () => {
    const anonymous = await call(platform.gatewayUrl, "GET", "/events");
    expect([anonymous.status, anonymous.code]).toEqual([401, 5001]);
    const badType = await as(mine, "GET", "/events?types=pipeline,gossip");
    expect([badType.status, badType.code]).toEqual([400, 1001]);
    expect(badType.message).toMatch(/^types: unknown event type gossip/);
    const badId = await as(mine, "GET", "/events?lastEventId=-1");
    expect([badId.status, badId.code]).toEqual([400, 1001]);
    expect(badId.message).toMatch(/Last-Event-ID/);

    const s = await events(mine);
    expect(s.status).toBe(200);
    expect(s.headers?.get("content-type")).toMatch(/^text\/event-stream/);
    expect(s.headers?.get("x-accel-buffering")).toBe("no");
    expect(s.headers?.get("cache-control")).toMatch(/no-cache/);
    await s.close();
  });

  it("sends a heartbeat comment on a quiet stream", async () => {
    const quiet = await events(theirs);
    await quiet.until((s) => s.heartbeats >= 2, "two heartbeats", 10 * HEARTBEAT_MS + 5000);
    expect(quiet.events).toEqual([]);
    await quiet.close();
  });

  it("takes the token as access_token (EventSource cannot send a header) and never logs it", async () => {
    const token = await signToken({ sub: "lena", team: "live.team*>" }, platform.jwtSecret, {
      expiresIn: "5m",
    });
    const s = await Subscriber.open(`${platform.gatewayUrl}/events?access_token=${token}&types=iteration`);
    expect(s.status).toBe(200);
    await s.close();
    const refused = await call(platform.gatewayUrl, "GET", `/events?access_token=${token}&types=gossip`);
    expect(refused.code).toBe(1001);
    expect(platform.processes.gateway.output.join("\n")).not.toContain(token);
  });

  it("streams a release's pipeline and iteration events in order; a client gone mid-release resumes with Last-Event-ID and misses nothing", async () => {
    ({ appId, iterationId } = await appAtStaging(mine, "live-agent"));
    // Both from the start of the stream, so the client that stays and the one that drops see the
    // same events up to the drop, whenever each connected.
    reference = await events(mine, `?appId=${appId}&lastEventId=0`);
    stranger = await events(theirs);
    const dropping = await events(mine, `?appId=${appId}&lastEventId=0`);

    const release = await ok<ReleaseResponse>(mine, "POST", `/iterations/${iterationId}/release`, {
      tag: "v1.0.0",
    });
    pipelineId = release.pipelineId!;

    // Gone as soon as the pipeline is under way, well before it ends.
    await dropping.until(
      (s) => s.events.some((e) => e.event === "pipeline" && e.data["pipelineId"] === pipelineId),
      "the release's first pipeline event",
    );
    await dropping.close();
    const before = [...dropping.events];
    const lastId = before.at(-1)!.id;

    const all = await reference.until(
      (s) =>
        s.events.some(isFinal(pipelineId)) &&
        s.events.some((e) => e.event === "iteration" && e.data["status"] === "RELEASED") &&
        s.events,
      "the release to succeed and the iteration to be RELEASED",
    );
    expect(before.some(isFinal(pipelineId))).toBe(false);

    const resumed = await events(mine, `?appId=${appId}`, { "last-event-id": String(lastId) });
    const lastOfAll = all.at(-1)!.id;
    await resumed.until((s) => s.events.some((e) => e.id >= lastOfAll), "the resumed stream to catch up");
    const after = resumed.events.filter((e) => e.id <= lastOfAll);
    expect(after.length).toBeGreaterThan(0);
    expect(resumed.resets).toEqual([]);

    // Once each and in order: the two halves are exactly what a client that stayed received.
    expect([...ids(before), ...ids(after)]).toEqual(ids(all.filter((e) => e.id <= lastOfAll)));
    expect(ids(all)).toEqual([...new Set(ids(all))].sort((a, b) => a - b));

    const states = all
      .filter((e) => e.event === "pipeline" && e.data["pipelineId"] === pipelineId)
      .map((e) => e.data["state"]);
    const firstSeen = (s: string) => states.indexOf(s);
    const order = ["CODE_CHECK", "BUILD", "PACKAGE", "SUCCESS"].map(firstSeen);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(all.find(isFinal(pipelineId))).toMatchObject({
      type: "live.pipeline.v1",
      data: { appId, iterationId, kind: "PHASE", deployStatus: "DEPLOY_SUCCESS", failedStage: null },
    });
    await resumed.close();
  });

  it("shows another team none of them", async () => {
    // The other team's own event comes after every event of the release in the stream, so when it
    // arrives, everything before it has been filtered out.
    const own = await appAtStaging(theirs, "their-agent");
    theirApp = own.appId;
    await stranger.until(
      (s) => s.events.some((e) => e.event === "iteration" && e.data["iterationId"] === own.iterationId),
      "the other team's own iteration event",
    );
    expect(stranger.events.every((e) => e.data["appId"] === own.appId)).toBe(true);
    expect(stranger.events.some((e) => e.data["appId"] === appId)).toBe(false);
    expect(stranger.events.some((e) => e.event === "log")).toBe(false);
    await stranger.close();
  });

  it("streams an app's repository binding (created, scaffold pushed, bound) to its team only", async () => {
    const bound = (app: number) => (e: Received) =>
      e.event === "repository" && e.data["appId"] === app && e.data["state"] === "BOUND";
    const own = await events(mine, `?lastEventId=0&types=repository&appId=${appId}`);
    await own.until((s) => s.events.some(bound(appId)), "the binding's events");
    expect(own.events.map((e) => [e.type, e.data["state"], e.data["scaffoldState"]])).toEqual([
      ["live.repository.v1", "PENDING", "PENDING"],
      ["live.repository.v1", "PENDING", "PUSHED"],
      ["live.repository.v1", "BOUND", "PUSHED"],
    ]);
    // The other team, from the start of the stream: its own app's binding (bound after ours), never ours.
    const other = await events(theirs, "?lastEventId=0&types=repository");
    await other.until((s) => s.events.some(bound(theirApp)), "the other team's own binding");
    expect(other.events.length).toBeGreaterThan(0);
    expect(other.events.every((e) => e.data["appId"] === theirApp)).toBe(true);
    await Promise.all([own.close(), other.close()]);
  });

  it("streams an app's app and webhook delivery events to its team only", async () => {
    // A delivery not signed for the app is stored, refused, for a bound app: a `webhook` event.
    const forge = async (app: number) => {
      const res = await call(platform.gatewayUrl, "POST", `/webhooks/local/${app}`, {
        body: { event: "push" },
        headers: {
          "x-procode-event": "push",
          "x-procode-delivery": `forged-${app}`,
          "x-procode-timestamp": String(Math.floor(Date.now() / 1000)),
          "x-procode-signature-256": `sha256=${"0".repeat(64)}`,
        },
      });
      expect(res.status).toBe(401);
    };
    await forge(appId);
    const refused = (app: number) => (e: Received) =>
      e.event === "webhook" && e.data["appId"] === app && e.data["status"] === "REJECTED";
    const own = await events(mine, `?lastEventId=0&types=app,webhook&appId=${appId}`);
    await own.until((s) => s.events.some(refused(appId)), "the refused delivery's event");
    // The app, created once; then its deliveries: the pushes of the scaffold and the release's tag
    // (the post-receive hook's), received then processed, and the forged one.
    expect(own.events[0]).toMatchObject({ event: "app", type: "live.app.v1" });
    expect(own.events[0]!.data).toEqual({ appId, name: "live-agent", devMode: "pro-code", revision: 1 });
    const deliveries = own.events.slice(1);
    expect(deliveries.every((e) => e.event === "webhook" && e.type === "live.webhook_delivery.v1")).toBe(
      true,
    );
    expect(deliveries.some((e) => e.data["status"] === "PROCESSED")).toBe(true);
    expect(deliveries.at(-1)!.data).toMatchObject({
      appId,
      deliveryId: `forged-${appId}`,
      status: "REJECTED",
      reason: expect.any(String),
    });

    // The other team, from the start of the stream: its own app and its own refused delivery (after
    // ours in the stream), never ours.
    await forge(theirApp);
    const other = await events(theirs, "?lastEventId=0&types=app,webhook,notification");
    await other.until((s) => s.events.some(refused(theirApp)), "the other team's own delivery");
    expect(other.events.some((e) => e.event === "app")).toBe(true);
    expect(other.events.every((e) => e.data["appId"] === theirApp)).toBe(true);
    await Promise.all([own.close(), other.close()]);
  });

  it("filters by pipelineId and by types, from the start of the stream with lastEventId", async () => {
    const all = await reference.until(
      (s) => s.events.some((e) => e.event === "webhook") && s.events,
      "the app's webhook event",
    );
    const lastOfAll = all.at(-1)!.id;
    const inRange = (list: Received[]) => list.filter((e) => e.id >= all[0]!.id && e.id <= lastOfAll);
    // The app's repository, app and webhook events are in `all`; a pipelineId filter leaves them out.
    for (const name of ["repository", "app", "webhook"]) expect(all.some((e) => e.event === name)).toBe(true);
    const expected = all.filter((e) =>
      e.event === "iteration"
        ? e.data["phasePipelineId"] === pipelineId
        : e.data["pipelineId"] === pipelineId,
    );
    expect(expected.length).toBeGreaterThan(3);
    const byPipeline = await events(mine, `?lastEventId=0&pipelineId=${pipelineId}`);
    await byPipeline.until((s) => inRange(s.events).length >= expected.length, "every event of the pipeline");
    for (const e of byPipeline.events) {
      expect(e.event === "iteration" ? e.data["phasePipelineId"] : e.data["pipelineId"]).toBe(pipelineId);
    }
    expect(ids(inRange(byPipeline.events))).toEqual(ids(expected));

    const iterationEvents = all.filter((e) => e.event === "iteration");
    const iterationsOnly = await events(mine, `?lastEventId=0&types=iteration&appId=${appId}`);
    await iterationsOnly.until(
      (s) => inRange(s.events).length >= iterationEvents.length,
      "every iteration event",
    );
    expect(iterationsOnly.events.every((e) => e.event === "iteration")).toBe(true);
    expect(ids(inRange(iterationsOnly.events))).toEqual(ids(iterationEvents));
    await Promise.all([byPipeline.close(), iterationsOnly.close(), reference.close()]);
  });

  it("streams every line of the release's stage logs as a log event, in the order they were written", async () => {
    const logs = await ok<StageLogs>(mine, "GET", `/pipelines/${pipelineId}/logs`);
    expect(logs.lines.length).toBeGreaterThan(10);
    const s = await events(mine, `?lastEventId=0&pipelineId=${pipelineId}&types=log`);
    await s.until((x) => x.events.length >= logs.lines.length, "every log line as an event");
    expect(s.events.every((e) => e.event === "log" && e.type === "live.log.v1")).toBe(true);
    expect(s.events.map((e) => e.data)).toEqual(logs.lines.map((l) => ({ pipelineId, appId, ...l })));
    await s.close();
  });

  it("streams the release's deployment: started, then finished with its outcome", async () => {
    const p = await ok<{ deployId: string }>(mine, "GET", `/pipelines/${pipelineId}`);
    const s = await events(mine, `?lastEventId=0&pipelineId=${pipelineId}&types=deployment`);
    await s.until((x) => x.events.some((e) => e.data["state"] === "FINISHED"), "the deployment to finish");
    expect(s.events.map((e) => [e.event, e.data["state"], e.data["outcome"]])).toEqual([
      ["deployment", "STARTED", null],
      ["deployment", "FINISHED", "SUCCESS"],
    ]);
    expect(s.events[0]!.data).toMatchObject({ pipelineId, appId, attempt: 1, deployId: p.deployId });
    await s.close();
    expect(stranger.events.some((e) => e.event === "deployment")).toBe(false);
  });

  it("tells a client whose Last-Event-ID the stream does not hold to reload", async () => {
    const s = await events(mine, "", { "last-event-id": "999999999" });
    await s.until((x) => x.resets.length > 0, "a reset");
    expect(JSON.parse(s.resets[0]!)).toMatchObject({ reason: expect.stringMatching(/reload/) });
    await s.close();
  });
});

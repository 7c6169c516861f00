import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { liveTeamToken, streamName } from "@procode/contracts";
import {
  createTestInfra,
  eventually,
  outboxDrained,
  streamMessages,
  type TestInfra,
} from "@procode/test-kit";
import {
  appSnapshot,
  bearer,
  newAppId,
  newKeys,
  publishAppEvent,
  randomSecret,
  startDevSvc,
  type DevSvc,
} from "./support/dev-svc.js";
import { createApp, localRepo, repoBinding } from "./support/runners/repos.js";
import { localSignature } from "../src/git/webhook-signatures.js";

/**
 * dev-svc's live events (docs/api.md, "Live events"): `live.repository.v1`, every change of an app's
 * repository row with its state, and `live.webhook_delivery.v1`, a webhook delivery when it is stored
 * (queued or refused) and again when it is processed; each in the transaction of its change, so the
 * events follow the changes in order, and only ids, states and reasons travel.
 */

let infra: TestInfra;
let dir: string;
let svc: DevSvc;
const keys = newKeys();

beforeAll(async () => {
  infra = await createTestInfra("dev-live");
  dir = await mkdtemp(path.join(tmpdir(), "dev-live-"));
  svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: path.join(dir, "local") });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** An app's live events of one type as the LIVE stream holds them, with their subjects' team token. */
async function liveEvents(
  type: "repository" | "webhook_delivery",
  appId: number,
): Promise<Record<string, unknown>[]> {
  await outboxDrained(infra.databaseUrl, "dev");
  return (
    await streamMessages<{ data: Record<string, unknown> }>(
      infra.natsUrl,
      streamName(infra.envName, "LIVE"),
      `${infra.envName}.live.${type}.v1.`,
    )
  )
    .filter((m) => m.message.data["appId"] === appId)
    .map((m) => ({ team: m.subject.split(".").at(-1), ...m.message.data }));
}

it("publishes created, the scaffold pushed, then BOUND, for a LOCAL app with a scaffold", async () => {
  const name = "scaffolded";
  await localRepo(path.join(dir, "local"), name);
  const app = await createApp(
    svc,
    infra,
    keys,
    { gitType: "LOCAL", gitRepoUrl: `local://${name}`, scaffoldTemplate: "python-agent" },
    { waitFor: (b) => b.state === "BOUND" && b.scaffold.state === "PUSHED" },
  );
  const team = liveTeamToken("team-a");
  expect(await liveEvents("repository", app.appId)).toEqual([
    { team, appId: app.appId, state: "PENDING", lastError: null, scaffoldState: "PENDING" },
    { team, appId: app.appId, state: "PENDING", lastError: null, scaffoldState: "PUSHED" },
    { team, appId: app.appId, state: "BOUND", lastError: null, scaffoldState: "PUSHED" },
  ]);
});

it("publishes NEEDS_CREDENTIAL with its reason for a GitLab app without a credential, once", async () => {
  const appId = newAppId();
  await publishAppEvent(
    svc,
    "created",
    appSnapshot(keys, {
      appId,
      gitType: "GITLAB",
      gitRepoUrl: "http://127.0.0.1:9/acme/agent.git",
      credentialId: null,
      webhookUrl: `http://127.0.0.1:9/webhooks/gitlab/${appId}`,
      webhookSecret: randomSecret(),
    }),
  );
  const waiting = await eventually(async () => {
    const b = await repoBinding(svc, infra, appId);
    return b?.state === "NEEDS_CREDENTIAL" ? b : null;
  }, "NEEDS_CREDENTIAL");
  const events = await liveEvents("repository", appId);
  expect(events.map((e) => [e.state, e.scaffoldState])).toEqual([
    ["PENDING", "NOT_REQUESTED"],
    ["NEEDS_CREDENTIAL", "NOT_REQUESTED"],
  ]);
  expect(events[1]!.lastError).toBe(waiting.lastError);
  expect(events[1]!.lastError).toMatch(/needs a credential/);
  // No secret travels: only the binding's state.
  expect(Object.keys(events[1]!).sort()).toEqual(["appId", "lastError", "scaffoldState", "state", "team"]);
});

/** A LOCAL push delivery (the post-receive hook's), signed with `secret`. */
async function postPush(appId: number, secret: string, deliveryId: string) {
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    event: "push",
    deliveryId,
    timestamp,
    ref: "refs/heads/main",
    before: "a".repeat(40),
    after: "b".repeat(40),
  });
  return svc.deps.app.inject({
    method: "POST",
    url: `/webhooks/local/${appId}`,
    headers: {
      "content-type": "application/json",
      "x-procode-event": "push",
      "x-procode-delivery": deliveryId,
      "x-procode-timestamp": String(timestamp),
      "x-procode-signature-256": localSignature(secret, body),
    },
    payload: body,
  });
}

it("publishes a delivery queued then processed, and a refused one, to the app's team only, without secrets", async () => {
  const name = "announced";
  await localRepo(path.join(dir, "local"), name);
  const app = await createApp(svc, infra, keys, { gitType: "LOCAL", gitRepoUrl: `local://${name}` });

  expect((await postPush(app.appId, app.webhookSecret, "d-good")).statusCode).toBe(200);
  await eventually(async () => {
    const res = await svc.deps.app.inject({
      url: `/apps/${app.appId}/repo/webhook-deliveries`,
      headers: { authorization: await bearer(infra) },
    });
    return res.json().data.items[0]?.status === "PROCESSED";
  }, "the delivery processed");
  expect((await postPush(app.appId, "forged-secret", "d-forged")).statusCode).toBe(401);

  const team = liveTeamToken("team-a");
  const events = await liveEvents("webhook_delivery", app.appId);
  expect(events).toEqual([
    { team, appId: app.appId, deliveryId: "d-good", status: "RECEIVED", reason: null },
    {
      team,
      appId: app.appId,
      deliveryId: "d-good",
      status: "PROCESSED",
      reason: expect.stringMatching(/^branch main -> bbbbbbbbbbbb/),
    },
    {
      team,
      appId: app.appId,
      deliveryId: "d-forged",
      status: "REJECTED",
      reason: expect.stringMatching(/does not match/),
    },
  ]);
  expect(JSON.stringify(events)).not.toContain(app.webhookSecret);
});

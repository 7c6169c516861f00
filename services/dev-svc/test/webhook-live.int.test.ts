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
import { localSignature } from "../src/services/webhook-signatures.js";
import { bearer, newKeys, startDevSvc, type DevSvc } from "./support/dev-svc.js";
import { createApp, localRepo } from "./support/runners/repos.js";

/**
 * The live event `live.webhook_delivery.v1` (docs/api.md, "Live events"): a webhook delivery is
 * announced when it is stored (queued or refused) and again when it is processed, in the transaction
 * of each change; only its id, status and reason travel.
 */

let infra: TestInfra;
let dir: string;
let svc: DevSvc;
const keys = newKeys();

beforeAll(async () => {
  infra = await createTestInfra("dev-webhook-live");
  dir = await mkdtemp(path.join(tmpdir(), "webhook-live-"));
  svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: path.join(dir, "local") });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The webhook delivery events of an app as the LIVE stream holds them, with their team token. */
async function deliveryEvents(appId: number) {
  await outboxDrained(infra.databaseUrl, "dev");
  return (
    await streamMessages<{ data: Record<string, unknown> }>(
      infra.natsUrl,
      streamName(infra.envName, "LIVE"),
      `${infra.envName}.live.webhook_delivery.v1.`,
    )
  )
    .filter((m) => m.message.data["appId"] === appId)
    .map((m) => ({ team: m.subject.split(".").at(-1), ...m.message.data }));
}

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
  const events = await deliveryEvents(app.appId);
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

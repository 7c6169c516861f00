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
  newAppId,
  newKeys,
  publishAppEvent,
  randomSecret,
  startDevSvc,
  type DevSvc,
} from "./support/dev-svc.js";
import { createApp, localRepo, repoBinding } from "./support/runners/repos.js";

/**
 * The live event `live.repository.v1` (docs/api.md, "Live events"): every change of an app's
 * repository row publishes its state, in the transaction of the change, so the events follow the
 * changes in order.
 */

let infra: TestInfra;
let dir: string;
let svc: DevSvc;
const keys = newKeys();

beforeAll(async () => {
  infra = await createTestInfra("dev-repo-live");
  dir = await mkdtemp(path.join(tmpdir(), "repo-live-"));
  svc = await startDevSvc(infra, keys, { LOCAL_GIT_ROOT: path.join(dir, "local") });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await infra?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** The repository events of an app as the LIVE stream holds them, with their subjects' team token. */
async function repositoryEvents(appId: number) {
  await outboxDrained(infra.databaseUrl, "dev");
  return (
    await streamMessages<{
      data: { appId: number; state: string; lastError: string | null; scaffoldState: string };
    }>(infra.natsUrl, streamName(infra.envName, "LIVE"), `${infra.envName}.live.repository.v1.`)
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
  expect(await repositoryEvents(app.appId)).toEqual([
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
  const events = await repositoryEvents(appId);
  expect(events.map((e) => [e.state, e.scaffoldState])).toEqual([
    ["PENDING", "NOT_REQUESTED"],
    ["NEEDS_CREDENTIAL", "NOT_REQUESTED"],
  ]);
  expect(events[1]!.lastError).toBe(waiting.lastError);
  expect(events[1]!.lastError).toMatch(/needs a credential/);
  // No secret travels: only the binding's state.
  expect(Object.keys(events[1]!).sort()).toEqual(["appId", "lastError", "scaffoldState", "state", "team"]);
});

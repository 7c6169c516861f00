import { afterAll, beforeAll, expect, it } from "vitest";
import { streamName } from "@procode/contracts";
import { eventually, outboxDrained, sql, streamMessages } from "@procode/test-kit";
import {
  api,
  createApp,
  localRepo,
  startHarness,
  waitIteration,
  type Harness,
} from "./support/iterations/harness.js";

/**
 * dev-svc's outbox cut from NATS: an iteration created while NATS is unreachable is committed with
 * its event held, and the event reaches pipeline-engine once NATS is back, exactly once.
 */

let h: Harness;
let appId: number;

beforeAll(async () => {
  h = await startHarness("dev-nats-outage", {}, { natsProxy: true });
  await localRepo(h, "agent");
  appId = await createApp(h, { gitRepoUrl: "local://agent", bound: true });
});

afterAll(() => h?.close());

it("creates an iteration while NATS is unreachable; its event is published once NATS is back, once", async () => {
  const proxy = h.natsProxy!;
  const createdEvents = async (iterationId: number) =>
    (
      await streamMessages(
        h.infra.natsUrl,
        streamName(h.infra.envName, "DEV"),
        `${h.infra.envName}.dev.iteration_created`,
      )
    ).filter((m) => m.message.data["iterationId"] === iterationId);

  proxy.cut();
  let iterationId: number;
  try {
    await eventually(
      async () => (await h.svc.deps.app.inject({ url: "/readyz" })).statusCode === 503,
      "readyz to notice NATS is gone",
    );
    const created = await api(h, "POST", "/iterations", { appId, name: "offline", sourceBranch: "main" });
    expect(created.status).toBe(200);
    expect(created.body.data).toMatchObject({ status: "DRAFT" });
    iterationId = created.body.data.id;
    const held = await sql<{ type: string }>(
      h.infra.databaseUrl,
      `select type from dev.outbox where published_at is null and payload->'data'->>'iterationId' = $1 order by type`,
      [String(iterationId)],
    );
    // Held with its live event, both published once NATS is back.
    expect(held).toEqual([{ type: "dev.iteration_created.v1" }, { type: "live.iteration.v1" }]);
    expect(await createdEvents(iterationId)).toEqual([]);
  } finally {
    proxy.restore();
  }

  // The engine takes it up: the iteration reaches DEVELOPING.
  await waitIteration(h, iterationId, (it) => it.status === "DEVELOPING", "DEVELOPING after NATS is back");
  await outboxDrained(h.infra.databaseUrl, "dev");
  expect(await createdEvents(iterationId)).toHaveLength(1);
});

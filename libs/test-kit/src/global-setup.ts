import type { TestProject } from "vitest/node";

import "./provided.js";

/**
 * Vitest global setup: PostgreSQL and NATS come from TEST_DATABASE_URL / TEST_NATS_URL when set
 * (CI and `npm test` set them to the local servers); otherwise testcontainers starts both.
 */
export default async function setup(project: TestProject) {
  const stops: (() => Promise<unknown>)[] = [];
  let databaseUrl = process.env["TEST_DATABASE_URL"];
  let natsUrl = process.env["TEST_NATS_URL"];
  if (!databaseUrl) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const pg = await new PostgreSqlContainer("postgres:15-alpine")
      .withUsername("postgres")
      .withPassword("postgres")
      .start();
    stops.push(() => pg.stop());
    databaseUrl = pg.getConnectionUri().replace(/\/[^/]*$/, "/postgres");
  }
  if (!natsUrl) {
    const { GenericContainer, Wait } = await import("testcontainers");
    const nats = await new GenericContainer("nats:2.10-alpine")
      .withCommand(["-js"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    stops.push(() => nats.stop());
    natsUrl = `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`;
  }
  project.provide("testDatabaseUrl", databaseUrl);
  project.provide("testNatsUrl", natsUrl);
  return async () => {
    for (const stop of stops) await stop();
  };
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestInfra, sql, type TestInfra } from "@procode/test-kit";
import {
  createLogger,
  Database,
  DomainError,
  Idempotency,
  migrateDatabase,
  type RecordAnswer,
} from "../src/index.js";

/** The kit's Idempotency-Key store on a real PostgreSQL: claims, answers recorded with the change. */

let infra: TestInfra;
let db: Database;
let idempotency: Idempotency;
const log = createLogger({ name: "idempotency-test", level: "silent" });

beforeAll(async () => {
  infra = await createTestInfra("kit_idempotency");
  await migrateDatabase({ url: infra.databaseUrl, schema: "kit_idem", migrations: [], log });
  db = new Database({ url: infra.databaseUrl, poolMax: 20, log });
  await db.sql.query(`create table kit_idem.thing (id serial primary key, name text not null)`);
  idempotency = new Idempotency({ db, schema: "kit_idem", log, waitMs: 5000, staleClaimMs: 1000 });
});

afterAll(async () => {
  await db?.close();
  await infra?.cleanup();
});

/** A create as a service writes it: the row and the recorded answer in one transaction. */
function createThing(name: string, opts: { delayMs?: number; fail?: boolean } = {}) {
  return async (record: RecordAnswer) =>
    db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: number }>(
        `insert into kit_idem.thing (name) values ($1) returning id`,
        [name],
      );
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.fail) throw new DomainError("INVALID_PARAMETER", "name: refused");
      const answer = { id: rows[0]!.id, name };
      await record(tx, answer);
      return answer;
    });
}

const things = async (name: string) =>
  (await sql<{ id: number }>(infra.databaseUrl, `select id from kit_idem.thing where name = $1`, [name]))
    .length;

const request = (key: string | null, body: unknown, team = "t1") => ({
  team,
  operation: "createThing",
  key,
  body,
});

describe("Idempotency-Key", () => {
  it("answers a repeat with the first answer and creates nothing more; the key is per team", async () => {
    const first = await idempotency.run(request("k-1", { name: "a", n: 1 }), createThing("a"));
    expect(first.replayed).toBe(false);
    // Same body, other key order: the same request.
    const again = await idempotency.run(request("k-1", { n: 1, name: "a" }), createThing("a"));
    expect(again).toEqual({ answer: first.answer, replayed: true });
    expect(await things("a")).toBe(1);
    // Another team's key of the same name is its own.
    const theirs = await idempotency.run(request("k-1", { name: "a", n: 1 }, "t2"), createThing("a"));
    expect(theirs.replayed).toBe(false);
    expect(await things("a")).toBe(2);
  });

  it("refuses the same key with a different body (9010), creating nothing", async () => {
    await idempotency.run(request("k-2", { name: "b" }), createThing("b"));
    const err = await idempotency
      .run(request("k-2", { name: "c" }), createThing("c"))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(9010);
    expect((err as DomainError).message).toMatch(/^Idempotency-Key: already used/);
    expect(await things("c")).toBe(0);
  });

  it("creates one of 10 concurrent repeats; every one gets its answer", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        idempotency.run(request("k-3", { name: "d" }), createThing("d", { delayMs: 200 })),
      ),
    );
    expect(await things("d")).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r.answer))).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it("frees the key when the first try failed, so the next one runs", async () => {
    await expect(
      idempotency.run(request("k-4", { name: "e" }), createThing("e", { fail: true })),
    ).rejects.toThrow(/refused/);
    expect(await things("e")).toBe(0);
    const retried = await idempotency.run(request("k-4", { name: "e" }), createThing("e"));
    expect(retried.replayed).toBe(false);
    expect(await things("e")).toBe(1);
  });

  it("forgets a key after 24 hours: the same key then creates again", async () => {
    await idempotency.run(request("k-5", { name: "f" }), createThing("f"));
    await db.sql.query(
      `update kit_idem.idempotency_key set created_at = now() - interval '25 hours' where key = 'k-5'`,
    );
    const later = await idempotency.run(request("k-5", { name: "f" }), createThing("f"));
    expect(later.replayed).toBe(false);
    expect(await things("f")).toBe(2);
  });

  it("takes over the claim of a request that died; the dead one can no longer record", async () => {
    // A claim with no answer, as a process killed mid-request leaves it.
    await db.sql.query(
      `insert into kit_idem.idempotency_key (team, operation, key, request_hash, claim, claimed_at)
       select 't1', 'createThing', 'k-6', request_hash, gen_random_uuid(), now() - interval '1 minute'
       from (select encode(sha256(convert_to('{"name":"g"}', 'UTF8')), 'hex') as request_hash) h`,
    );
    const taken = await idempotency.run(request("k-6", { name: "g" }), createThing("g"));
    expect(taken.replayed).toBe(false);
    expect(await things("g")).toBe(1);
  });

  it("keeps the claim of a live request that takes longer than a claim goes stale", async () => {
    // The first takes 2.5 s; claims here go stale after 1 s unless renewed.
    const first = idempotency.run(request("k-8", { name: "j" }), createThing("j", { delayMs: 2500 }));
    await new Promise((r) => setTimeout(r, 1500));
    const repeat = await idempotency.run(request("k-8", { name: "j" }), createThing("j"));
    const answered = await first;
    expect(answered.replayed).toBe(false);
    expect(repeat).toEqual({ answer: answered.answer, replayed: true });
    expect(await things("j")).toBe(1);
  });

  it("runs a request without a key as any request", async () => {
    await idempotency.run(request(null, { name: "h" }), createThing("h"));
    await idempotency.run(request(null, { name: "h" }), createThing("h"));
    expect(await things("h")).toBe(2);
  });
});

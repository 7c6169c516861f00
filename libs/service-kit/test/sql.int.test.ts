import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestInfra, type TestInfra } from "@procode/test-kit";
import { createLogger, Database } from "../src/index.js";

let infra: TestInfra;
let db: Database;

beforeAll(async () => {
  infra = await createTestInfra("kit-sql");
  // One connection: every transaction below runs on the same one, as a busy service's do.
  db = new Database({
    url: infra.databaseUrl,
    poolMax: 1,
    log: createLogger({ name: "kit-sql", level: "silent" }),
  });
  await db.sql.query(`create table kit_sql_note (id int primary key, body text not null)`);
});

afterAll(async () => {
  await db?.close();
  await infra?.cleanup();
});

/** How many times sockets wrote while `fn` ran (a corked batch of messages is one write). */
async function writesDuring<T>(fn: () => Promise<T>): Promise<{ writes: number; result: T }> {
  const proto = net.Socket.prototype as unknown as Record<"_write" | "_writev", (...a: unknown[]) => unknown>;
  const original = { _write: proto._write, _writev: proto._writev };
  let writes = 0;
  for (const k of ["_write", "_writev"] as const) {
    proto[k] = function (this: unknown, ...a: unknown[]) {
      writes++;
      return original[k].apply(this, a);
    };
  }
  try {
    const result = await fn();
    return { writes, result };
  } finally {
    Object.assign(proto, original);
  }
}

const INSERT = "insert into kit_sql_note (id, body) values ($1, $2) returning id";
const insert = (id: number, body: string): [string, unknown[], string] => [
  INSERT,
  [id, body],
  "kit-sql-insert",
];
const count = async () =>
  Number((await db.sql.query<{ n: string }>(`select count(*)::text as n from kit_sql_note`)).rows[0]!.n);

describe("transactions", () => {
  it("send BEGIN with the first statement once both are prepared on the connection: one write fewer", async () => {
    // The first transaction on the connection prepares BEGIN (and the statement): BEGIN, insert, COMMIT.
    const first = await writesDuring(() => db.transaction((sql) => sql.query(...insert(1, "one"))));
    expect(first.writes).toBe(3);
    // Then BEGIN goes with the insert: two writes.
    const second = await writesDuring(() =>
      db.transaction((sql) => sql.query<{ id: number }>(...insert(2, "two"))),
    );
    expect(second.writes).toBe(2);
    // The statement's own result, not BEGIN's.
    expect(second.result.rows).toEqual([{ id: 2 }]);
    expect(second.result.rowCount).toBe(1);
    const third = await writesDuring(() =>
      db.transaction(async (sql) => {
        await sql.query(...insert(3, "three"));
        return sql.query<{ id: number }>(...insert(4, "four"));
      }),
    );
    expect(third.writes).toBe(3);
    expect(third.result.rows).toEqual([{ id: 4 }]);
    expect(await count()).toBe(4);
  });

  it("send BEGIN with a statement still to be prepared or without a name, but not with one in the simple protocol", async () => {
    // Named, parsed on the connection for the first time in the same write.
    const named = await writesDuring(() =>
      db.transaction((sql) => sql.query<{ id: number }>(INSERT, [5, "five"], "kit-sql-insert-new")),
    );
    expect(named).toMatchObject({ writes: 2, result: { rows: [{ id: 5 }] } });
    // Unnamed with parameters: the extended protocol too.
    const unnamed = await writesDuring(() =>
      db.transaction((sql) => sql.query<{ id: number }>(INSERT, [6, "six"])),
    );
    expect(unnamed).toMatchObject({ writes: 2, result: { rows: [{ id: 6 }] } });
    // No name and no parameters: a simple query, after a BEGIN of its own.
    const simple = await writesDuring(() =>
      db.transaction((sql) => sql.query<{ n: number }>("select 7 as n")),
    );
    expect(simple).toMatchObject({ writes: 3, result: { rows: [{ n: 7 }] } });
    await db.sql.query(`delete from kit_sql_note where id in (5, 6)`);
  });

  it("run the statement that went with BEGIN inside the transaction: a failure later rolls it back", async () => {
    const before = await count();
    await expect(
      db.transaction(async (sql) => {
        await sql.query(...insert(10, "ten"));
        await sql.query(...insert(10, "ten again")); // unique violation
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect(await count()).toBe(before);
    await expect(
      db.transaction(async (sql) => {
        await sql.query(...insert(11, "eleven"));
        throw new Error("the use case changed its mind");
      }),
    ).rejects.toThrow("changed its mind");
    expect(await count()).toBe(before);
  });

  it("roll back when the statement that went with BEGIN fails, and the connection serves on", async () => {
    const before = await count();
    await expect(db.transaction((sql) => sql.query(...insert(1, "duplicate of one")))).rejects.toMatchObject({
      code: "23505",
    });
    await expect(
      db.transaction((sql) => sql.query("select 1 / $1::int as x", [0], "kit-sql-divide")),
    ).rejects.toMatchObject({ code: "22012" });
    // Again, now prepared on the connection: it fails there as well.
    await expect(
      db.transaction((sql) => sql.query("select 1 / $1::int as x", [0], "kit-sql-divide")),
    ).rejects.toMatchObject({ code: "22012" });
    const ok = await db.transaction((sql) =>
      sql.query<{ x: number }>("select 1 / $1::int as x", [1], "kit-sql-divide"),
    );
    expect(ok.rows).toEqual([{ x: 1 }]);
    expect(await count()).toBe(before);
    // No transaction was left open on the connection.
    const open = await db.sql.query<{ s: string }>(`select now()::text as s`);
    const again = await db.sql.query<{ s: string }>(`select now()::text as s`);
    expect(open.rows[0]!.s).not.toBe(again.rows[0]!.s);
  });

  it("send COMMIT with the statement the use case calls the last: one write fewer, and nothing after it", async () => {
    await db.sql.query(`delete from kit_sql_note where id >= 20`);
    const before = await count();
    // BEGIN and COMMIT prepared on the connection: a one-statement transaction is one write.
    const one = await writesDuring(() =>
      db.transaction((sql) => sql.last.query<{ id: number }>(...insert(20, "twenty"))),
    );
    expect(one).toMatchObject({ writes: 1, result: { rows: [{ id: 20 }] } });
    // Two statements, the second with COMMIT: two writes.
    const two = await writesDuring(() =>
      db.transaction(async (sql) => {
        await sql.query(...insert(21, "twenty-one"));
        return sql.last.query<{ id: number }>(...insert(22, "twenty-two"));
      }),
    );
    expect(two).toMatchObject({ writes: 2, result: { rows: [{ id: 22 }] } });
    expect(await count()).toBe(before + 3);
    // A statement after the last is refused without a write; what the last committed stays.
    const after = await writesDuring(() =>
      db
        .transaction(async (sql) => {
          await sql.last.query(...insert(23, "twenty-three"));
          await sql.query(...insert(24, "twenty-four"));
        })
        .catch((err: unknown) => err),
    );
    expect(after.writes).toBe(1);
    expect(String(after.result)).toMatch(/has committed/);
    expect(await count()).toBe(before + 4);
    // The use case failing after its last statement: committed all the same, no ROLLBACK sent.
    const late = await writesDuring(() =>
      db
        .transaction(async (sql) => {
          await sql.last.query(...insert(25, "twenty-five"));
          throw new Error("failed after the last statement");
        })
        .catch((err: unknown) => err),
    );
    expect(late.writes).toBe(1);
    expect(await count()).toBe(before + 5);
  });

  it("roll back when the last statement or its COMMIT fails, and the connection serves on", async () => {
    const before = await count();
    // The last statement fails: PostgreSQL skips the COMMIT; the transaction is rolled back.
    await expect(
      db.transaction(async (sql) => {
        await sql.query(...insert(30, "thirty"));
        await sql.last.query(...insert(30, "thirty again"));
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect(await count()).toBe(before);
    // The statement succeeds and COMMIT fails (a deferred constraint): the query rejects.
    await db.sql.query(
      `create table if not exists kit_sql_deferred (k int, constraint kit_sql_deferred_k unique (k) deferrable initially deferred)`,
    );
    await expect(
      db.transaction(async (sql) => {
        await sql.query("insert into kit_sql_deferred values ($1)", [1]);
        await sql.last.query("insert into kit_sql_deferred values ($1)", [1]);
      }),
    ).rejects.toMatchObject({ code: "23505" });
    const kept = await db.sql.query<{ n: string }>(`select count(*)::text as n from kit_sql_deferred`);
    expect(kept.rows[0]!.n).toBe("0");
    // The connection serves on, with no transaction left open.
    const ok = await db.transaction((sql) => sql.last.query<{ id: number }>(...insert(31, "thirty-one")));
    expect(ok.rows).toEqual([{ id: 31 }]);
    const open = await db.sql.query<{ s: string }>(`select now()::text as s`);
    const again = await db.sql.query<{ s: string }>(`select now()::text as s`);
    expect(open.rows[0]!.s).not.toBe(again.rows[0]!.s);
    expect(await count()).toBe(before + 1);
  });

  it("send nothing for a transaction that runs no statement", async () => {
    const idle = await writesDuring(() => db.transaction(async () => "nothing to do"));
    expect(idle).toEqual({ writes: 0, result: "nothing to do" });
  });
});

describe("a database that goes away", () => {
  /**
   * A server that speaks just enough of PostgreSQL's protocol to accept a connection and, in the same
   * write as its ReadyForQuery, end it with the FATAL 57P01 a fast shutdown sends every backend: the
   * connection a pool has just opened for a transaction fails before the transaction sent anything.
   */
  async function shuttingDownServer(): Promise<{ url: string; close: () => Promise<void> }> {
    const message = (type: string, body: Buffer) => {
      const head = Buffer.alloc(5);
      head.write(type, 0, "latin1");
      head.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([head, body]);
    };
    const int32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const fields = (f: Record<string, string>) =>
      Buffer.concat([
        ...Object.entries(f).map(([k, v]) => Buffer.from(`${k}${v}\0`, "utf8")),
        Buffer.from([0]),
      ]);
    const server = net.createServer((socket) => {
      socket.once("data", () => {
        socket.end(
          Buffer.concat([
            message("R", int32(0)),
            message("Z", Buffer.from("I")),
            message(
              "E",
              fields({
                S: "FATAL",
                V: "FATAL",
                C: "57P01",
                M: "terminating connection due to administrator command",
              }),
            ),
          ]),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `postgres://procode@127.0.0.1:${port}/procode`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  it("fails the transaction, not the process, when its new connection ends as it opens", async () => {
    const server = await shuttingDownServer();
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    const gone = new Database({
      url: server.url,
      poolMax: 1,
      log: createLogger({ name: "kit-sql-gone", level: "silent" }),
    });
    try {
      await expect(gone.transaction((sql) => sql.query("select 1"))).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(uncaught.map((e) => e.message)).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
      await gone.close();
      await server.close();
    }
  });
});

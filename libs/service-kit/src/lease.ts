import type { Sql } from "./sql.js";

/** Where a table keeps its leases: the row's key, the holder (when named) and the time it runs out. */
export interface LeaseColumns {
  /** Schema-qualified table name. */
  table: string;
  key: string;
  until: string;
  /** The column naming the holder; leases without one (a next-attempt time) are held by whoever took them. */
  owner?: string;
}

/** `now()` plus the milliseconds of parameter `param` (e.g. `$3`), as a timestamp. */
export const nowPlusMs = (param: string) => `now() + ${param}::bigint * interval '1 millisecond'`;

/**
 * Leases on rows, the one way every service claims work that a replica or a process may die
 * holding: a lease is free when it was never taken, was given back, or ran out; its holder renews
 * it while the work goes on and gives it back when done; a holder that dies leaves it to run out,
 * after which anyone may take it. Every statement runs on the `Sql` it is given, so a claim can be
 * part of a larger transaction.
 */
export class Leases {
  constructor(private readonly c: LeaseColumns) {}

  /** SQL condition: the row's lease is free. */
  get free(): string {
    return `(${this.c.until} is null or ${this.c.until} <= now())`;
  }

  private get owner(): string {
    if (!this.c.owner) throw new Error(`${this.c.table}: these leases name no holder`);
    return this.c.owner;
  }

  /** Takes the lease of row `key` for `ms` when it is free (and `where` holds); true when taken. */
  async take(sql: Sql, key: unknown, owner: string, ms: number, where = "true"): Promise<boolean> {
    const { table, until } = this.c;
    const res = await sql.query(
      `update ${table} set ${this.owner} = $2, ${until} = ${nowPlusMs("$3")}
       where ${this.c.key} = $1 and ${this.free} and (${where})`,
      [key, owner, ms],
    );
    return res.rowCount === 1;
  }

  /** Extends the lease `owner` holds on row `key` by `ms` from now; false when it is no longer theirs. */
  async renew(sql: Sql, key: unknown, owner: string, ms: number, where = "true"): Promise<boolean> {
    const res = await sql.query(
      `update ${this.c.table} set ${this.c.until} = ${nowPlusMs("$3")}
       where ${this.c.key} = $1 and ${this.owner} = $2 and (${where})`,
      [key, owner, ms],
    );
    return res.rowCount === 1;
  }

  /** Gives the lease `owner` holds on row `key` back: anyone may take it at once. */
  async giveBack(sql: Sql, key: unknown, owner: string, where = "true"): Promise<boolean> {
    const res = await sql.query(
      `update ${this.c.table} set ${this.owner} = null, ${this.c.until} = null
       where ${this.c.key} = $1 and ${this.owner} = $2 and (${where})`,
      [key, owner],
    );
    return res.rowCount === 1;
  }

  /** Gives back every lease `owner` holds (a process restarted under the same name). */
  async giveBackAll(sql: Sql, owner: string): Promise<number> {
    const res = await sql.query(
      `update ${this.c.table} set ${this.owner} = null, ${this.c.until} = null where ${this.owner} = $1`,
      [owner],
    );
    return res.rowCount;
  }

  /**
   * Leases up to `limit` rows for which `due` holds, in `orderBy` order, for `ms` (to `owner` when
   * the leases name their holder), and returns them. SKIP LOCKED: processes claiming at the same
   * moment never take the same row. `due` decides whether a row's lease must be free (`this.free`).
   */
  async claimDue<R>(
    sql: Sql,
    q: { due: string; orderBy: string; limit: number; ms: number; owner?: string },
  ): Promise<R[]> {
    const { table, key, until } = this.c;
    const holder = q.owner === undefined ? "" : `, ${this.owner} = $3`;
    const { rows } = await sql.query<R>(
      `update ${table} set ${until} = ${nowPlusMs("$2")}${holder}
       where ${key} in (select ${key} from ${table} where ${q.due} order by ${q.orderBy} limit $1 for update skip locked)
       returning *`,
      q.owner === undefined ? [q.limit, q.ms] : [q.limit, q.ms, q.owner],
    );
    return rows;
  }
}

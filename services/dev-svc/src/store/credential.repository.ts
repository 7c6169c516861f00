import type { GitType, SealedSecret } from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

/** A stored credential; the token only ever as ciphertext with the id of the key that sealed it. */
export interface CredentialRecord {
  id: string;
  team: string;
  gitType: GitType;
  name: string;
  username: string | null;
  sealed: SealedSecret;
  createdBy: string;
  createdAt: string;
}

interface Row {
  id: string;
  team: string;
  git_type: GitType;
  name: string;
  username: string | null;
  token_key_id: string;
  token_ciphertext: string;
  created_by: string;
  created_at: Date;
}

const toRecord = (r: Row): CredentialRecord => ({
  id: r.id,
  team: r.team,
  gitType: r.git_type,
  name: r.name,
  username: r.username,
  sealed: { keyId: r.token_key_id, ciphertext: r.token_ciphertext },
  createdBy: r.created_by,
  createdAt: iso(r.created_at)!,
});

export async function insertCredential(
  db: Sql,
  c: Omit<CredentialRecord, "createdAt">,
): Promise<CredentialRecord> {
  const r =
    (
      await db.query<Row>(
        `insert into ${S}.credential (id, team, git_type, name, username, token_key_id, token_ciphertext, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
        [c.id, c.team, c.gitType, c.name, c.username, c.sealed.keyId, c.sealed.ciphertext, c.createdBy],
      )
    ).rows[0] ?? null;
  return toRecord(r!);
}

/** A page of a team's credentials, oldest first, with the total. */
export async function listCredentials(
  db: Sql,
  team: string,
  page: { limit: number; offset: number },
): Promise<{ items: CredentialRecord[]; total: number }> {
  const rows = (
    await db.query<Row>(
      `select * from ${S}.credential where team = $1 order by created_at, id limit $2 offset $3`,
      [team, page.limit, page.offset],
    )
  ).rows;
  const total =
    (await db.query<{ n: string }>(`select count(*) as n from ${S}.credential where team = $1`, [team]))
      .rows[0] ?? null;
  return { items: rows.map(toRecord), total: Number(total?.n ?? 0) };
}

export async function findCredential(db: Sql, team: string, id: string): Promise<CredentialRecord | null> {
  if (!isUuid(id)) return null;
  const r =
    (await db.query<Row>(`select * from ${S}.credential where team = $1 and id = $2`, [team, id])).rows[0] ??
    null;
  return r ? toRecord(r) : null;
}

export async function deleteCredential(db: Sql, team: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  return (
    (await db.query(`delete from ${S}.credential where team = $1 and id = $2`, [team, id])).rowCount === 1
  );
}

/** Every credential not sealed under `activeKeyId` (key rotation), a batch at a time. */
export async function credentialsToReseal(
  db: Sql,
  activeKeyId: string,
  limit: number,
): Promise<CredentialRecord[]> {
  return (
    await db.query<Row>(`select * from ${S}.credential where token_key_id <> $1 order by id limit $2`, [
      activeKeyId,
      limit,
    ])
  ).rows.map(toRecord);
}

/** Replaces a credential's ciphertext when it is still the one that was read (no lost update). */
export async function updateSealedToken(
  db: Sql,
  id: string,
  from: SealedSecret,
  to: SealedSecret,
): Promise<boolean> {
  return (
    (
      await db.query(
        `update ${S}.credential set token_key_id = $1, token_ciphertext = $2, updated_at = now()
       where id = $3 and token_key_id = $4 and token_ciphertext = $5`,
        [to.keyId, to.ciphertext, id, from.keyId, from.ciphertext],
      )
    ).rowCount === 1
  );
}

function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

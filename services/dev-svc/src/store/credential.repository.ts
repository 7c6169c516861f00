import type { GitType, SealedSecret } from "@procode/contracts";
import { all, iso, one, run, S, type Db } from "./sql.js";

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
  em: Db,
  c: Omit<CredentialRecord, "createdAt">,
): Promise<CredentialRecord> {
  const r = await one<Row>(
    em,
    `insert into ${S}.credential (id, team, git_type, name, username, token_key_id, token_ciphertext, created_by)
     values (?, ?, ?, ?, ?, ?, ?, ?) returning *`,
    [c.id, c.team, c.gitType, c.name, c.username, c.sealed.keyId, c.sealed.ciphertext, c.createdBy],
  );
  return toRecord(r!);
}

/** A page of a team's credentials, oldest first, with the total. */
export async function listCredentials(
  em: Db,
  team: string,
  page: { limit: number; offset: number },
): Promise<{ items: CredentialRecord[]; total: number }> {
  const rows = await all<Row>(
    em,
    `select * from ${S}.credential where team = ? order by created_at, id limit ? offset ?`,
    [team, page.limit, page.offset],
  );
  const total = await one<{ n: string }>(em, `select count(*) as n from ${S}.credential where team = ?`, [
    team,
  ]);
  return { items: rows.map(toRecord), total: Number(total?.n ?? 0) };
}

export async function findCredential(em: Db, team: string, id: string): Promise<CredentialRecord | null> {
  if (!isUuid(id)) return null;
  const r = await one<Row>(em, `select * from ${S}.credential where team = ? and id = ?`, [team, id]);
  return r ? toRecord(r) : null;
}

export async function deleteCredential(em: Db, team: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  return (await run(em, `delete from ${S}.credential where team = ? and id = ?`, [team, id])) === 1;
}

/** Every credential not sealed under `activeKeyId` (key rotation), a batch at a time. */
export async function credentialsToReseal(
  em: Db,
  activeKeyId: string,
  limit: number,
): Promise<CredentialRecord[]> {
  return (
    await all<Row>(em, `select * from ${S}.credential where token_key_id <> ? order by id limit ?`, [
      activeKeyId,
      limit,
    ])
  ).map(toRecord);
}

/** Replaces a credential's ciphertext when it is still the one that was read (no lost update). */
export async function updateSealedToken(
  em: Db,
  id: string,
  from: SealedSecret,
  to: SealedSecret,
): Promise<boolean> {
  return (
    (await run(
      em,
      `update ${S}.credential set token_key_id = ?, token_ciphertext = ?, updated_at = now()
       where id = ? and token_key_id = ? and token_ciphertext = ?`,
      [to.keyId, to.ciphertext, id, from.keyId, from.ciphertext],
    )) === 1
  );
}

export function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

import { randomUUID } from "node:crypto";
import { link, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Which team a LOCAL repository belongs to (docs/services/dev-svc.md, "LOCAL repositories"): the
 * team whose app first bound it, written once into the repository's git directory, beside the hooks
 * the binding installs. To every other team the repository is as unreachable as one that is not
 * there: they cannot bind it, read its tags, tag it or install a hook in it.
 */
const OWNER_FILE = "procode-owner.json";

/** The team that owns the repository at `gitDir`, or null when no app has bound it yet. */
export async function localRepositoryOwner(gitDir: string): Promise<string | null> {
  try {
    const { team } = JSON.parse(await readFile(path.join(gitDir, OWNER_FILE), "utf8")) as { team?: unknown };
    return typeof team === "string" ? team : null;
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return null;
    throw err;
  }
}

/**
 * Makes `team` the owner of the repository at `gitDir` unless a team already is, and returns the
 * owning team. The file is written whole under another name and then linked into place, which fails
 * when it exists: of two teams binding at once exactly one becomes the owner, and a reader never
 * sees half a file.
 */
export async function claimLocalRepository(gitDir: string, team: string): Promise<string> {
  const draft = path.join(gitDir, `${OWNER_FILE}.${randomUUID()}`);
  await writeFile(draft, `${JSON.stringify({ team })}\n`, { mode: 0o644 });
  try {
    await link(draft, path.join(gitDir, OWNER_FILE));
    return team;
  } catch (err) {
    if ((err as { code?: string }).code !== "EEXIST") throw err;
    const owner = await localRepositoryOwner(gitDir);
    if (owner === null) throw new Error(`${OWNER_FILE} in ${gitDir} names no team`);
    return owner;
  } finally {
    await rm(draft, { force: true });
  }
}

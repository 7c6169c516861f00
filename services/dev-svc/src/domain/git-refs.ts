/** Rules for branch and tag names (close to `git check-ref-format`), checked before any git call. */
export function isValidRefName(name: string): boolean {
  if (!name || name.length > 255) return false;
  if (name.startsWith("-") || name.startsWith("/") || name.endsWith("/") || name.endsWith(".")) return false;
  if (name.endsWith(".lock") || name.includes("..") || name.includes("//") || name.includes("@{"))
    return false;
  if (name === "@") return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return !name.split("/").some((part) => part.startsWith(".") || part.endsWith(".lock"));
}

/** A full commit id (SHA-1 or SHA-256). */
export function isCommitId(value: string): boolean {
  return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(value);
}

export const ZERO_COMMIT = "0000000000000000000000000000000000000000";

/** A repository path inside a tree: relative, no traversal, no empty segments. */
export function isSafeRepoPath(p: string): boolean {
  if (!p || p.length > 1024 || p.startsWith("/") || p.endsWith("/")) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(p)) return false;
  return p.split("/").every((s) => s !== "" && s !== "." && s !== ".." && s !== ".git");
}

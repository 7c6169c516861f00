import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Semaphore } from "@procode/service-kit";
import type { GitProvider, TreeEntry } from "../integrations/git/provider.js";

/**
 * The release commit's tree written to a directory for the sandbox (mounted read-only at `/app`),
 * without `evals/`: the agent never has its cases, not even hidden under a mount. Regular files
 * only (a symlink holds a path, a submodule is another repository).
 */
export async function checkoutTree(opts: {
  provider: GitProvider;
  commitId: string;
  entries: readonly TreeEntry[];
  dir: string;
  maxFiles: number;
  maxBytes: number;
  signal: AbortSignal;
}): Promise<{ files: number; bytes: number }> {
  const blobs = opts.entries.filter(
    (e) =>
      e.type === "blob" &&
      e.mode !== "120000" &&
      !e.path.startsWith("evals/") &&
      e.path.split("/").every((p) => p !== "" && p !== "." && p !== ".."),
  );
  if (blobs.length > opts.maxFiles)
    throw new Error(`the tree has ${blobs.length} files; the gate checks out at most ${opts.maxFiles}`);
  const sem = new Semaphore(8);
  let bytes = 0;
  await Promise.all(
    blobs.map(async (e) => {
      await sem.acquire();
      try {
        if (opts.signal.aborted) throw opts.signal.reason;
        const content = await opts.provider.readFile(e.path, opts.commitId);
        bytes += content.length;
        if (bytes > opts.maxBytes) throw new Error(`the tree is larger than ${opts.maxBytes} bytes`);
        const file = path.join(opts.dir, e.path);
        await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
        await writeFile(file, content, { mode: e.mode === "100755" ? 0o755 : 0o644 });
      } finally {
        sem.release();
      }
    }),
  );
  await chmod(opts.dir, 0o755);
  return { files: blobs.length, bytes };
}

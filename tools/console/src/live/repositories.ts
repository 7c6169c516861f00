/**
 * The apps whose repository binding this session has seen announced by a `repository` event
 * (docs/console.md, "A new app's page"): dev-svc publishes one when it creates the app's repository
 * row, so once it is seen, the app's repository routes answer. An event may arrive before the
 * answer of the POST that created the app, hence a small record rather than a listener alone.
 */
const KEEP = 200;
const seen = new Set<number>();
const listeners = new Set<(appId: number) => void>();

/** Records that an app's repository was announced (called for every `repository` event). */
export function noteRepository(appId: number): void {
  if (!seen.has(appId)) {
    seen.add(appId);
    // Oldest first in a Set: drop the oldest beyond KEEP.
    if (seen.size > KEEP) seen.delete(seen.values().next().value!);
  }
  for (const listener of [...listeners]) listener(appId);
}

export type RepositoryReady = "event" | "read" | "timeout" | "aborted";

export interface RepositoryWait {
  /** Whether the event stream is up now (then its event is awaited; else the repository is read). */
  isLive: () => boolean;
  /** Reads GET /apps/{id}/repo: true once it answers. */
  read: (appId: number) => Promise<boolean>;
  timeoutMs: number;
  pollMs: number;
  signal?: AbortSignal;
}

/**
 * Waits until dev-svc knows a new app's repository: its `repository` event seen in this session,
 * or, while the stream is down, GET /apps/{id}/repo answering; at most `timeoutMs`.
 */
export function repositoryReady(appId: number, w: RepositoryWait): Promise<RepositoryReady> {
  if (seen.has(appId)) return Promise.resolve("event");
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (outcome: RepositoryReady) => {
      listeners.delete(onSeen);
      clearTimeout(timer);
      clearTimeout(deadline);
      w.signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onSeen = (id: number) => {
      if (id === appId) done("event");
    };
    const onAbort = () => done("aborted");
    const waiting = () => listeners.has(onSeen);
    const poll = async () => {
      if (!waiting()) return;
      if (!w.isLive() && (await w.read(appId).catch(() => false))) {
        if (waiting()) done("read");
        return;
      }
      if (waiting()) timer = setTimeout(() => void poll(), w.pollMs);
    };
    const deadline = setTimeout(() => done("timeout"), w.timeoutMs);
    listeners.add(onSeen);
    w.signal?.addEventListener("abort", onAbort);
    if (w.signal?.aborted) return done("aborted");
    timer = setTimeout(() => void poll(), w.isLive() ? w.pollMs : 0);
  });
}

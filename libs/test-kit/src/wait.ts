/** Polls `fn` until it returns a truthy value (returned) or the time is up (throws with `what`). */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs = 10000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

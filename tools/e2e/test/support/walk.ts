import { expect } from "vitest";
import type { Iteration, Pipeline } from "@procode/contracts";
import { eventually } from "@procode/test-kit";

/** A gateway call that must succeed: its `data` (a non-zero code throws with the status and message). */
export type Ok = <T>(method: string, url: string, body?: unknown) => Promise<T>;

/** Waits until pipeline `id` satisfies `done`; a timeout says what it last saw. */
export async function waitPipeline(
  ok: Ok,
  id: number,
  done: (p: Pipeline) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<Pipeline> {
  let last: Pipeline | undefined;
  try {
    return await eventually(
      async () => {
        last = await ok<Pipeline>("GET", `/pipelines/${id}`);
        return done(last) ? last : null;
      },
      what,
      timeoutMs,
      150,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** Waits until iteration `id` shows `status`. */
export function waitIteration(ok: Ok, id: number, status: string, timeoutMs = 30_000): Promise<Iteration> {
  return eventually(
    async () => {
      const it = await ok<Iteration>("GET", `/iterations/${id}`);
      return it.status === status ? it : null;
    },
    `iteration ${id} ${status}`,
    timeoutMs,
    200,
  );
}

/** A new iteration of `appId` on main (DRAFT, then DEVELOPING), walked through `phases`; its id. */
export async function iterationThrough(
  ok: Ok,
  appId: number,
  name: string,
  phases: readonly string[] = ["TESTING", "STAGING"],
): Promise<number> {
  const it = await ok<Iteration>("POST", "/iterations", { appId, name, sourceBranch: "main" });
  expect(it.status).toBe("DRAFT");
  await waitIteration(ok, it.id, "DEVELOPING");
  for (const phase of phases) {
    const r = await ok<{ currentPhase: string }>("POST", `/iterations/${it.id}/proceed`, {
      targetPhase: phase,
    });
    expect(r.currentPhase).toBe(phase);
  }
  return it.id;
}

import { z } from "zod";

/**
 * How one deployment (or build) of the reference ops module behaves. Settable over HTTP for tests
 * and demos: defaults, per app, or for the next N creates (see server.ts, `/_control/*`).
 */
export const Behaviour = z.object({
  /** Time from create to the final status. 0: final at the first status call. */
  durationMs: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600_000),
  /** The final status. */
  outcome: z.enum(["SUCCESS", "FAILED"]),
  /** Final message; a plausible one is made up when absent. */
  message: z.string().max(2000).optional(),
  /** Callbacks: once at the end, none, the same one twice, or once `callbackDelayMs` after the end. */
  callback: z.enum(["on", "off", "twice", "late"]),
  /** For `late`: how long after the end the callback goes out. */
  callbackDelayMs: z.number().int().min(0).max(3600_000),
  /** Also send a callback with the running status once the deployment has started. */
  progressCallback: z.boolean(),
  /** Status reported while running; any string (servers may have their own, e.g. ROLLING_OUT). */
  runningStatus: z.string().min(1).max(50),
  /** Answer each status call this late (widens race windows in tests). */
  statusDelayMs: z.number().int().min(0).max(60_000),
  /** Add fields.10 does not define to every answer. */
  extraFields: z.boolean(),
  /** Leave `message` out of status answers. */
  omitMessage: z.boolean(),
  /** false: `POST /deploy/{id}/cancel` answers 405, like a server that does not offer it. */
  cancelSupported: z.boolean(),
  /** When set, the create is refused (400) with this message. */
  rejectCreate: z.string().min(1).max(500).optional(),
});
export type Behaviour = z.infer<typeof Behaviour>;

export const BehaviourPatch = Behaviour.partial().strict();
export type BehaviourPatch = z.infer<typeof BehaviourPatch>;

export const DEFAULT_BEHAVIOUR: Behaviour = {
  durationMs: 3000,
  outcome: "SUCCESS",
  callback: "on",
  callbackDelayMs: 5000,
  progressCallback: false,
  runningStatus: "RUNNING",
  statusDelayMs: 0,
  extraFields: false,
  omitMessage: false,
  cancelSupported: true,
};

/** Applies patches in order; `undefined` values in a patch change nothing. */
export function mergeBehaviour(base: Behaviour, ...patches: (BehaviourPatch | undefined)[]): Behaviour {
  const out: Behaviour = { ...base };
  for (const patch of patches) {
    if (!patch) continue;
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Zero-delay mode (benchmarks): every duration and delay is 0. */
export function zeroDelay(b: Behaviour): Behaviour {
  return { ...b, durationMs: 0, callbackDelayMs: 0, statusDelayMs: 0 };
}

export type WorkKind = "deploy" | "build";

/** The status a piece of work shows at `now`: PENDING for the first fifth, then running, then final. */
export function statusAt(
  b: Behaviour,
  createdAt: number,
  now: number,
  cancelledAt: number | null,
): { status: string; terminal: boolean } {
  if (cancelledAt !== null) return { status: "CANCELLED", terminal: true };
  const elapsed = now - createdAt;
  if (elapsed >= b.durationMs) return { status: b.outcome, terminal: true };
  if (elapsed < b.durationMs / 5) return { status: "PENDING", terminal: false };
  return { status: b.runningStatus, terminal: false };
}

import { createMachine, interpret } from "robot3";

/** An event a machine state does not handle (robot3 would silently ignore it). */
export class InvalidTransitionError extends Error {
  override name = "InvalidTransitionError";
  constructor(
    readonly machine: string,
    readonly from: string,
    readonly event: string,
  ) {
    super(`${machine} machine: event ${event} is not allowed in state ${from}`);
  }
}

/** The shape robot3 gives a state: its transitions by event name. */
interface RobotStates {
  [name: string]: { final: boolean; transitions: Map<string, unknown[]> };
}

/**
 * The one place robot3 is driven: restores a machine at `from` (its states have no invoke or
 * immediate, so restoring runs nothing), sends `event` and returns the state it moved to. Rejects an
 * unknown state, an event the state does not handle and an event every guard refused.
 */
export function decideWith<S extends string, E extends { type: string }>(
  machine: string,
  states: RobotStates,
  from: S,
  event: E,
): S {
  const state = Object.prototype.hasOwnProperty.call(states, from) ? states[from] : undefined;
  if (!state || !state.transitions.has(event.type)) {
    throw new InvalidTransitionError(machine, from, event.type);
  }
  let moved = false;
  const restored = createMachine(from, states as never, (ctx: object) => ctx) as unknown as Parameters<
    typeof interpret
  >[0];
  const service = interpret(
    restored,
    () => {
      moved = true;
    },
    {},
  );
  service.send(event as never);
  if (!moved) throw new InvalidTransitionError(machine, from, event.type);
  return service.machine.current as S;
}

/** Every event name a set of states handles anywhere (for table-driven tests and log checks). */
export function eventsOf(states: RobotStates): string[] {
  const names = new Set<string>();
  for (const s of Object.values(states)) for (const e of s.transitions.keys()) names.add(e);
  return [...names];
}

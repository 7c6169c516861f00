import { createMachine, state, transition } from "robot3";
import type { IterationMachineState } from "@procode/contracts";
import { decideWith } from "./machine.js";

/**
 * The iteration pipeline: PENDING -START-> DEVELOPING -ENTER_TESTING-> TESTING
 * -TESTING_SUCCESS-> STAGING -STAGING_SUCCESS-> RELEASE -RELEASE_SUCCESS-> RELEASED. An app may leave
 * TESTING and STAGING out of its phases, which adds the skipping edges ENTER_STAGING and
 * ENTER_RELEASE. Any unfinished state may be CANCELLED.
 */
export type IterationEvent =
  | { type: "START" }
  | { type: "ENTER_TESTING" }
  | { type: "TESTING_SUCCESS" }
  | { type: "STAGING_SUCCESS" }
  | { type: "ENTER_STAGING" }
  | { type: "ENTER_RELEASE" }
  | { type: "RELEASE_SUCCESS" }
  | { type: "CANCEL" };
export type IterationEventType = IterationEvent["type"];

const cancel = transition("CANCEL", "CANCELLED");

export const iterationStates = {
  PENDING: state(transition("START", "DEVELOPING"), cancel),
  DEVELOPING: state(
    transition("ENTER_TESTING", "TESTING"),
    transition("ENTER_STAGING", "STAGING"),
    transition("ENTER_RELEASE", "RELEASE"),
    cancel,
  ),
  TESTING: state(transition("TESTING_SUCCESS", "STAGING"), transition("ENTER_RELEASE", "RELEASE"), cancel),
  STAGING: state(transition("STAGING_SUCCESS", "RELEASE"), cancel),
  RELEASE: state(transition("RELEASE_SUCCESS", "RELEASED"), cancel),
  RELEASED: state(),
  CANCELLED: state(),
} satisfies Record<IterationMachineState, unknown>;

/** The machine itself (pure; restored at any state by `decideIteration`). */
export const iterationMachine = createMachine("PENDING", iterationStates);

export function decideIteration(from: IterationMachineState, event: IterationEvent): IterationMachineState {
  return decideWith("iteration", iterationStates, from, event);
}

/** The event that moves an iteration from one phase to the next phase of its app. */
export function iterationEventFor(
  from: IterationMachineState,
  to: IterationMachineState,
): IterationEventType | null {
  const key = `${from}>${to}`;
  const table: Record<string, IterationEventType> = {
    "DEVELOPING>TESTING": "ENTER_TESTING",
    "TESTING>STAGING": "TESTING_SUCCESS",
    "STAGING>RELEASE": "STAGING_SUCCESS",
    "DEVELOPING>STAGING": "ENTER_STAGING",
    "DEVELOPING>RELEASE": "ENTER_RELEASE",
    "TESTING>RELEASE": "ENTER_RELEASE",
  };
  return table[key] ?? null;
}

import { createMachine, guard, state, transition } from "robot3";
import type { PhaseMachineState, PhaseStage } from "@procode/contracts";
import { decideWith } from "./machine.js";

/**
 * The phase pipeline: PENDING -START-> RUNNING -ENTER_CODE_CHECK-> CODE_CHECK -> BUILD ->
 * PACKAGE -> (QUALITY_GATE, where it is on) -> DEPLOY -DEPLOY_START-> DEPLOYING -DEPLOY_SUCCESS->
 * SUCCESS; any stage -*_FAILED-> FAILED. A blocked QUALITY_GATE may be waived: FAILED -WAIVE-> DEPLOY.
 * Added to the seed's machine: RETRY (a new attempt of a stage: AUTO retry of the running stage, or the retry
 * action from FAILED), RESUME (from FAILED, or of a stage that is stuck) and CANCEL from any
 * unfinished state. RETRY and RESUME name their stage; a guard lets only that stage's edge through.
 */
export type PhaseEvent =
  | { type: "START" }
  | { type: "ENTER_CODE_CHECK" }
  | { type: "CODE_CHECK_SUCCESS" }
  | { type: "CODE_CHECK_FAILED" }
  | { type: "BUILD_SUCCESS" }
  | { type: "BUILD_FAILED" }
  | { type: "PACKAGE_SUCCESS"; gate: boolean }
  | { type: "PACKAGE_FAILED" }
  | { type: "QUALITY_GATE_SUCCESS" }
  | { type: "QUALITY_GATE_FAILED" }
  | { type: "WAIVE" }
  | { type: "DEPLOY_START" }
  | { type: "DEPLOY_SUCCESS" }
  | { type: "DEPLOY_FAILED" }
  | { type: "RETRY"; stage: PhaseStage }
  | { type: "RESUME"; stage: PhaseStage }
  | { type: "CANCEL" };
export type PhaseEventType = PhaseEvent["type"];

const forStage = (stage: PhaseStage) =>
  guard((_ctx: unknown, ev: { stage?: PhaseStage }) => ev.stage === stage);
/** RETRY / RESUME of `stage`, leading to the state that runs it. */
const rerun = (stage: PhaseStage) => [
  transition("RETRY", stage, forStage(stage)),
  transition("RESUME", stage, forStage(stage)),
];
const cancel = transition("CANCEL", "CANCELLED");
/** PACKAGE succeeded: the quality gate next where it is on, else DEPLOY. */
const gateIsOn = guard((_ctx: unknown, ev: { gate?: boolean }) => ev.gate === true);

export const phaseStates = {
  PENDING: state(transition("START", "RUNNING"), cancel),
  RUNNING: state(transition("ENTER_CODE_CHECK", "CODE_CHECK"), cancel),
  CODE_CHECK: state(
    transition("CODE_CHECK_SUCCESS", "BUILD"),
    transition("CODE_CHECK_FAILED", "FAILED"),
    ...rerun("CODE_CHECK"),
    cancel,
  ),
  BUILD: state(
    transition("BUILD_SUCCESS", "PACKAGE"),
    transition("BUILD_FAILED", "FAILED"),
    ...rerun("BUILD"),
    cancel,
  ),
  PACKAGE: state(
    transition("PACKAGE_SUCCESS", "QUALITY_GATE", gateIsOn),
    transition("PACKAGE_SUCCESS", "DEPLOY"),
    transition("PACKAGE_FAILED", "FAILED"),
    ...rerun("PACKAGE"),
    cancel,
  ),
  QUALITY_GATE: state(
    transition("QUALITY_GATE_SUCCESS", "DEPLOY"),
    transition("QUALITY_GATE_FAILED", "FAILED"),
    ...rerun("QUALITY_GATE"),
    cancel,
  ),
  // The ops module may refuse a deployment before it starts: DEPLOY can fail too.
  DEPLOY: state(
    transition("DEPLOY_START", "DEPLOYING"),
    transition("DEPLOY_FAILED", "FAILED"),
    ...rerun("DEPLOY"),
    cancel,
  ),
  DEPLOYING: state(
    transition("DEPLOY_SUCCESS", "SUCCESS"),
    transition("DEPLOY_FAILED", "FAILED"),
    ...rerun("DEPLOY"),
    cancel,
  ),
  FAILED: state(
    ...rerun("CODE_CHECK"),
    ...rerun("BUILD"),
    ...rerun("PACKAGE"),
    ...rerun("QUALITY_GATE"),
    ...rerun("DEPLOY"),
    transition("WAIVE", "DEPLOY"),
    cancel,
  ),
  SUCCESS: state(),
  CANCELLED: state(),
} satisfies Record<PhaseMachineState, unknown>;

export const phaseMachine = createMachine("PENDING", phaseStates);

export function decidePhase(from: PhaseMachineState, event: PhaseEvent): PhaseMachineState {
  return decideWith("phase", phaseStates, from, event);
}

/** The state in which `stage` runs (DEPLOYING is DEPLOY's second half). */
export function stageOfState(state: PhaseMachineState): PhaseStage | null {
  switch (state) {
    case "CODE_CHECK":
    case "BUILD":
    case "PACKAGE":
    case "QUALITY_GATE":
    case "DEPLOY":
      return state;
    case "DEPLOYING":
      return "DEPLOY";
    default:
      return null;
  }
}

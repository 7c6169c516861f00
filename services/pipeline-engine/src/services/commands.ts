import type { DomainError } from "@procode/service-kit";
import type {
  Actor,
  CancelPipelineResponse,
  ProceedIterationReply,
  ProceedPipelineResponse,
  ResumePipelineResponse,
  RetryPipelineResponse,
  DeploymentFinished,
  DeploymentStarted,
  DeploymentWaiting,
  IterationCreated,
  MessageData,
  ProceedIterationRequest,
  StageCompleted,
  StageWaiting,
} from "@procode/contracts";

/** Everything that can change a pipeline; each is applied inside a (batched) transaction. */
export type Command =
  | { kind: "iterationCreated"; data: MessageData<typeof IterationCreated> }
  | { kind: "proceedIteration"; data: ProceedIterationRequest }
  | { kind: "stageCompleted"; data: MessageData<typeof StageCompleted>; deliveryCount: number }
  | { kind: "stageWaiting"; data: MessageData<typeof StageWaiting>; deliveryCount: number }
  | { kind: "deploymentStarted"; data: MessageData<typeof DeploymentStarted>; deliveryCount: number }
  | { kind: "deploymentWaiting"; data: MessageData<typeof DeploymentWaiting>; deliveryCount: number }
  | { kind: "deploymentFinished"; data: MessageData<typeof DeploymentFinished>; deliveryCount: number }
  | {
      kind: "action";
      action: "PROCEED" | "RETRY" | "RESUME" | "CANCEL";
      pipelineId: number;
      actor: Actor;
      reason?: string;
    }
  | { kind: "wake"; pipelineId: number };

export type CommandWithContext = Command & { correlationId: string };

/** The pipeline a command names by its id (stage results, actions, timers); undefined for the others. */
export function pipelineOf(c: Command): number | undefined {
  switch (c.kind) {
    case "stageCompleted":
    case "stageWaiting":
    case "deploymentStarted":
    case "deploymentWaiting":
    case "deploymentFinished":
      return c.data.pipelineId;
    case "action":
    case "wake":
      return c.pipelineId;
    default:
      return undefined;
  }
}

/** What a message command did ("ignored": stale, duplicate or no longer applicable). */
export type MessageOutcome = "done" | "ignored" | "duplicate";

/** A refusal to return as the command's answer even though the transaction commits. */
export class CommittedRefusal {
  constructor(readonly error: DomainError) {}
}

/** What each REST action answers (the route validates it again against its schema). */
export interface ActionAnswers {
  PROCEED: ProceedPipelineResponse;
  RETRY: RetryPipelineResponse;
  RESUME: ResumePipelineResponse;
  CANCEL: CancelPipelineResponse;
}

/** What a command answers, by its kind (and an action by its action). */
export type AnswerOf<C extends Command> = C extends { kind: "proceedIteration" }
  ? ProceedIterationReply
  : C extends { kind: "action"; action: infer A extends keyof ActionAnswers }
    ? ActionAnswers[A]
    : MessageOutcome;

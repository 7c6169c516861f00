import type { MessageDefinition } from "./message.js";
import { AppCreated, ProcodeConfigChanged } from "./messages/app.js";
import { IterationCreated } from "./messages/dev.js";
import { DeploymentFinished, DeploymentStarted, DeploymentWaiting } from "./messages/ops.js";
import {
  DeploymentCancelRequested,
  IterationPhaseChanged,
  PhasePipelineStatusChanged,
  QualityWaived,
} from "./messages/pipeline.js";
import { StageCompleted, StageRequested, StageWaiting } from "./messages/stage.js";
import {
  AppChanged,
  DeploymentChanged,
  IterationChanged,
  NotificationDeliveryChanged,
  PipelineChanged,
  RepositoryChanged,
  StageLogWritten,
  WebhookDeliveryChanged,
} from "./messages/live.js";

/** Every event and command the four services exchange, and the live events they publish. */
export const MESSAGES = [
  AppCreated,
  ProcodeConfigChanged,
  IterationCreated,
  IterationPhaseChanged,
  PhasePipelineStatusChanged,
  DeploymentCancelRequested,
  QualityWaived,
  StageRequested,
  StageWaiting,
  StageCompleted,
  DeploymentStarted,
  DeploymentWaiting,
  DeploymentFinished,
  PipelineChanged,
  IterationChanged,
  StageLogWritten,
  DeploymentChanged,
  RepositoryChanged,
  AppChanged,
  WebhookDeliveryChanged,
  NotificationDeliveryChanged,
] as const satisfies readonly MessageDefinition[];

export type AnyMessageDefinition = (typeof MESSAGES)[number];
export type MessageType = AnyMessageDefinition["type"];

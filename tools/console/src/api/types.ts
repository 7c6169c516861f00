/**
 * Names for the API's bodies: the component schemas of the API document (libs/contracts/openapi.json),
 * as openapi-typescript generates them (@procode/contracts/api-types). No body type is written by
 * hand here.
 */
import type { components, paths } from "@procode/contracts/api-types";

type Schemas = components["schemas"];

export type App = Schemas["App"];
export type CreateAppBody = Schemas["CreateAppRequest"];
export type ProcodeConfig = Schemas["ProcodeConfig"];
export type StageConfig = Schemas["StageConfig"];
export type ConfigUpdate = Schemas["PutProcodeConfigRequest"];
export type TagList = Schemas["GitRefList"];
export type Iteration = Schemas["Iteration"];
export type TargetPhase = Schemas["ProceedIterationRequest"]["targetPhase"];
export type Pipeline = Schemas["Pipeline"];
export type Checkpoint = Schemas["Checkpoint"];
export type ReleaseResult = Schemas["ReleaseResponse"];
export type PipelineQuery = NonNullable<paths["/pipelines"]["get"]["parameters"]["query"]>;
export type Notification = Schemas["Notification"];
export type NotificationEventType = Schemas["NotificationEventType"];

/** A stage attempt's log line (`GET /pipelines/{id}/logs?stage=&attempt=` and the `log` event of `GET /events`). */
export type LogLine = Schemas["StageLogLine"];
/** A stage attempt's log; `truncated`: the attempt wrote more than the platform keeps (1 MiB). */
export type StageLog = Schemas["StageLogs"];

/** The quality gate's runs of an app (`GET /apps/{id}/quality`) and one whole report. */
export type QualityReportItem = Schemas["QualityReportItem"];
export type QualityReport = Schemas["QualityReport"];
export type QualityCase = Schemas["QualityCase"];

/**
 * Names for the API's bodies, all taken from the generated schema (schema.d.ts): no response type is
 * written by hand here. Once the gateway's document names its schemas (`components.schemas.App`, ...)
 * these become `components["schemas"][...]`.
 */
import type { paths } from "./schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Method = "get" | "post" | "put" | "delete";

/** The `data` of an operation's successful envelope (200 or 201). */
export type Data<P extends keyof paths, M extends Method> = paths[P][M] extends {
  responses: infer R;
}
  ? Json<R[200 & keyof R]> | Json<R[201 & keyof R]> extends { data: infer D }
    ? D
    : never
  : never;

/** The JSON body an operation takes. */
export type Body<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** The query parameters an operation takes. */
export type Query<P extends keyof paths, M extends Method> = paths[P][M] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

export type App = Data<"/apps/{id}", "get">;
export type AppList = Data<"/apps", "get">;
export type CreateAppBody = Body<"/apps", "post">;
export type ProcodeConfig = NonNullable<App["procodeConfig"]>;
export type StageConfig = ProcodeConfig["effectiveStageConfigs"]["CODE_CHECK"];
export type ConfigUpdate = Body<"/apps/{id}/procode-config", "put">;
export type RepoBinding = Data<"/apps/{id}/repo", "get">;
export type WebhookDelivery = Data<"/apps/{id}/repo/webhook-deliveries", "get">["items"][number];
export type TagList = Data<"/apps/{id}/repo/tags", "get">;
export type Credential = Data<"/credentials/{id}", "get">;
export type Iteration = Data<"/iterations/{id}", "get">;
export type IterationPhaseRow = Iteration["phases"][number];
export type Pipeline = Data<"/pipelines/{id}", "get">;
export type Checkpoint = Pipeline["checkpoints"][number];
export type PipelineQuery = Query<"/pipelines", "get">;

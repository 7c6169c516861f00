import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { isFinished } from "@procode/contracts/pipeline-view";
import { usePoll } from "../live/live";
import { api, unwrap } from "./client";
import { keepsLog, logKey } from "./logs";
import type { PipelineQuery } from "./types";

/**
 * The console's reads, one hook per API read. Query keys name the thing (["pipeline", id]) so the
 * live layer invalidates exactly what an event concerns.
 */

export function useApps(filter: { name?: string; devMode?: "pro-code" | "low-code" }) {
  return useQuery({
    queryKey: ["apps", filter],
    queryFn: () =>
      unwrap(
        api.GET("/apps", {
          params: {
            query: {
              pageSize: 100,
              ...(filter.name ? { name: filter.name } : {}),
              ...(filter.devMode ? { devMode: filter.devMode } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    // Announced by the `app` event: polled only while the stream is down.
    refetchInterval: usePoll("list"),
  });
}

/** Ids come from the address or from another answer: ask only for ones that can exist. */
const isId = (id: number | null | undefined): id is number =>
  typeof id === "number" && Number.isSafeInteger(id) && id > 0;

export function useApp(id: number) {
  return useQuery({
    queryKey: ["app", id],
    queryFn: () => unwrap(api.GET("/apps/{id}", { params: { path: { id } } })),
    enabled: isId(id),
    // Announced by the `app` event: polled only while the stream is down.
    refetchInterval: usePoll("list"),
  });
}

export function useRepo(appId: number) {
  // Announced by the `repository` event: polled only while the stream is down.
  const poll = usePoll("list");
  return useQuery({
    queryKey: ["repo", appId],
    queryFn: () => unwrap(api.GET("/apps/{id}/repo", { params: { path: { id: appId } } })),
    enabled: isId(appId),
    // dev-svc binds (and tries again after an error) and pushes the scaffold by itself; once bound
    // and pushed, only a person changes the binding.
    refetchInterval: (q) =>
      q.state.data?.state === "BOUND" && q.state.data.scaffold.state !== "PENDING" ? false : poll,
  });
}

/**
 * Announced by the `webhook` event (and read again with the binding on a `repository` event):
 * polled only while the stream is down. `enabled`: once the binding was read, so an app dev-svc
 * does not know yet is not asked for.
 */
export function useWebhookDeliveries(appId: number, enabled = true) {
  return useQuery({
    queryKey: ["repo", appId, "webhook-deliveries"],
    queryFn: () =>
      unwrap(
        api.GET("/apps/{id}/repo/webhook-deliveries", {
          params: { path: { id: appId }, query: { pageSize: 10 } },
        }),
      ),
    enabled: enabled && isId(appId),
    refetchInterval: usePoll("list"),
  });
}

export function useTags(appId: number, enabled = true) {
  return useQuery({
    queryKey: ["repo", appId, "tags"],
    queryFn: () => unwrap(api.GET("/apps/{id}/repo/tags", { params: { path: { id: appId } } })),
    enabled: enabled && isId(appId),
  });
}

export function useIterations(appId: number) {
  return useQuery({
    queryKey: ["iterations", appId],
    queryFn: () =>
      unwrap(api.GET("/apps/{id}/iterations", { params: { path: { id: appId }, query: { pageSize: 100 } } })),
    refetchInterval: usePoll("list"),
  });
}

export function useIteration(id: number) {
  const poll = usePoll("focus");
  return useQuery({
    queryKey: ["iteration", id],
    queryFn: () => unwrap(api.GET("/iterations/{id}", { params: { path: { id } } })),
    enabled: isId(id),
    refetchInterval: (q) => (q.state.data?.status === "RELEASED" ? false : poll),
  });
}

export function usePipeline(id: number | null | undefined) {
  const poll = usePoll("focus");
  return useQuery({
    queryKey: ["pipeline", id],
    queryFn: () => unwrap(api.GET("/pipelines/{id}", { params: { path: { id: id! } } })),
    enabled: isId(id),
    // A finished pipeline changes only when someone acts on it (resume), which refetches it.
    refetchInterval: (q) => (q.state.data && isFinished(q.state.data) ? false : poll),
  });
}

/** An app's releases: its phase pipelines, newest first. */
export function useReleases(appId: number) {
  const query: PipelineQuery = { appId, type: "PHASE", pageSize: 50 };
  return useQuery({
    queryKey: ["releases", appId],
    queryFn: () => unwrap(api.GET("/pipelines", { params: { query } })),
    enabled: isId(appId),
    refetchInterval: usePoll("list"),
  });
}

/** An app's quality gate runs, newest first. */
export function useQualityReports(appId: number) {
  return useQuery({
    queryKey: ["quality", appId],
    queryFn: () =>
      unwrap(api.GET("/apps/{id}/quality", { params: { path: { id: appId }, query: { pageSize: 100 } } })),
    enabled: isId(appId),
    refetchInterval: usePoll("list"),
  });
}

/** One gate run's whole report (a report does not change but for a waiver, which an event announces). */
export function useQualityReport(appId: number, reportId: number) {
  return useQuery({
    queryKey: ["quality", appId, reportId],
    queryFn: () =>
      unwrap(api.GET("/apps/{id}/quality/{reportId}", { params: { path: { id: appId, reportId } } })),
    enabled: isId(appId) && isId(reportId),
  });
}

export function useCredentials(enabled: boolean) {
  return useQuery({
    queryKey: ["credentials"],
    queryFn: () => unwrap(api.GET("/credentials", { params: { query: { pageSize: 100 } } })),
    enabled,
  });
}

export function useNotifications(appId: number) {
  return useQuery({
    queryKey: ["notifications", appId],
    queryFn: () =>
      unwrap(
        api.GET("/apps/{id}/notifications", { params: { path: { id: appId }, query: { pageSize: 100 } } }),
      ),
    enabled: isId(appId),
  });
}

/** Announced by the `notification` event: polled only while the stream is down. */
export function useNotificationDeliveries(appId: number, subscriptionId: number) {
  return useQuery({
    queryKey: ["notifications", appId, subscriptionId, "deliveries"],
    queryFn: () =>
      unwrap(
        api.GET("/apps/{id}/notifications/{subscriptionId}/deliveries", {
          params: { path: { id: appId, subscriptionId }, query: { pageSize: 5 } },
        }),
      ),
    refetchInterval: usePoll("list"),
  });
}

/**
 * A stage attempt's log. The stream's `log` events add to it (src/api/logs.ts); while the stream is
 * down it is read again as often as the pipeline, while the attempt runs.
 */
export function useStageLog(pipelineId: number, stage: string, attempt: number, running: boolean) {
  const poll = usePoll("focus");
  return useQuery({
    queryKey: logKey(pipelineId, stage, attempt),
    queryFn: () =>
      keepsLog(stage)
        ? unwrap(
            api.GET("/pipelines/{id}/logs", {
              params: { path: { id: pipelineId }, query: { stage, attempt } },
            }),
          )
        : Promise.reject(new Error(`${stage} keeps no log`)),
    enabled: isId(pipelineId) && keepsLog(stage),
    refetchInterval: running ? poll : false,
  });
}

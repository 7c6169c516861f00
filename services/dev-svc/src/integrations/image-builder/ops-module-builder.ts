import {
  LenientBuildStatus,
  CreateBuildResponse,
  isTerminalOpsStatus,
  OPS_IDEMPOTENCY_HEADER,
  type CreateBuildRequest,
} from "@procode/contracts";
import { createOpsClient, sleep } from "@procode/service-kit";
import {
  ImageBuildError,
  type BuildProgress,
  type BuildSpec,
  type BuiltImage,
  type ImageBuilder,
} from "./image-builder.js";

export interface OpsModuleBuilderOptions {
  /** The ops module's base URL (operator configuration, not user input). */
  baseUrl: string;
  /** Pause between two status calls. */
  pollMs: number;
  /** How long a build may take, from its creation to its final status. */
  timeoutMs: number;
  /** Budget of one HTTP call. */
  callTimeoutMs: number;
  /** Status calls that may fail in a row (builder briefly down) before the build is given up. */
  maxPollFailures?: number;
}

/**
 * The reference ops module's image builder (`POST /build/create`, `GET /build/{id}/status`, the
 * `{code, message, data}` envelope of seed 3.10): creates the build with an idempotency key and polls
 * it until SUCCESS, FAILED or CANCELLED.
 */
export function createOpsModuleBuilder(opts: OpsModuleBuilderOptions): ImageBuilder {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const maxPollFailures = opts.maxPollFailures ?? 5;

  const describe = `the image builder at ${base}`;
  const client = createOpsClient({ baseUrl: base, name: describe, timeoutMs: opts.callTimeoutMs });

  return {
    describe,
    async build(spec: BuildSpec, signal: AbortSignal, onProgress?: BuildProgress): Promise<BuiltImage> {
      const createCall = "POST /build/create";
      const request: CreateBuildRequest = {
        appId: spec.appId,
        commitId: spec.commitId,
        dockerfile: spec.dockerfile,
        image: spec.image,
        ...(spec.repoUrl ? { repoUrl: spec.repoUrl } : {}),
      };
      const created = await client.call({
        op: "create",
        method: "POST",
        path: "/build/create",
        schema: CreateBuildResponse,
        body: request,
        headers: { [OPS_IDEMPOTENCY_HEADER]: spec.idempotencyKey },
        signal,
      });
      if (created.kind === "unavailable")
        throw new ImageBuildError("unavailable", created.reason, createCall);
      if (created.kind === "refused") {
        throw new ImageBuildError(
          "rejected",
          `${describe} refused the build: HTTP ${created.httpStatus}: ${created.message}`,
          createCall,
        );
      }
      const buildId = created.data.buildId;
      const statusCall = `GET /build/${buildId}/status`;
      const deadline = Date.now() + opts.timeoutMs;
      let failures = 0;
      let last = created.data.status;
      for (;;) {
        const answer = await client.call({
          op: "status",
          method: "GET",
          path: `/build/${encodeURIComponent(buildId)}/status`,
          schema: LenientBuildStatus,
          signal,
        });
        if (answer.kind === "ok") {
          failures = 0;
          const s = answer.data;
          last = s.status;
          onProgress?.({ buildId, status: s.status, message: s.message });
          if (s.status.toUpperCase() === "SUCCESS") {
            return {
              buildId,
              image: s.image || spec.image,
              ...(s.digest ? { digest: s.digest } : {}),
            };
          }
          if (isTerminalOpsStatus(s.status)) {
            throw new ImageBuildError(
              "build_failed",
              `build ${buildId} ended ${s.status}${s.message ? `: ${s.message}` : ""}`,
              statusCall,
              buildId,
            );
          }
        } else {
          failures++;
          // 404: the builder no longer knows the build (e.g. it restarted); a new attempt builds again.
          if (answer.kind === "refused" && answer.httpStatus !== 404) {
            throw new ImageBuildError(
              "rejected",
              `${describe} refused the status call for build ${buildId}: HTTP ${answer.httpStatus}: ${answer.message}`,
              statusCall,
              buildId,
            );
          }
          if (failures >= maxPollFailures || answer.kind === "refused") {
            const why = answer.kind === "refused" ? `HTTP 404: ${answer.message}` : answer.reason;
            throw new ImageBuildError(
              "unavailable",
              `${describe} could not report build ${buildId} (${failures} failed status calls in a row): ${why}`,
              statusCall,
              buildId,
            );
          }
        }
        if (Date.now() + opts.pollMs > deadline) {
          throw new ImageBuildError(
            "timeout",
            `build ${buildId} did not finish within ${opts.timeoutMs} ms (last status ${last})`,
            statusCall,
            buildId,
          );
        }
        await sleep(opts.pollMs, signal);
        if (signal.aborted) throw signal.reason ?? new Error("aborted");
      }
    },
  };
}

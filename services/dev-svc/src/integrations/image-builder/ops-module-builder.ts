import {
  LenientBuildStatus,
  CreateBuildResponse,
  isTerminalOpsStatus,
  OPS_IDEMPOTENCY_HEADER,
  type CreateBuildRequest,
} from "@procode/contracts";
import { backoffDelay, createOpsClient, sleep } from "@procode/service-kit";
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
  /** How long a build may take while the builder answers, from its creation to its final status. */
  timeoutMs: number;
  /** Budget of one HTTP call. */
  callTimeoutMs: number;
  /** Longest pause between two calls to a builder that does not answer. */
  maxRetryMs?: number;
}

/**
 * The reference ops module's image builder (`POST /build/create`, `GET /build/{id}/status`, the
 * `{code, message, data}` envelope): creates the build with an idempotency key and polls
 * it until SUCCESS, FAILED or CANCELLED. A builder that does not answer is waited for, never a
 * failure (docs/reliability.md "Waiting is not failing"); a build it no longer knows (404 after its
 * restart) is created again under the same key.
 */
export function createOpsModuleBuilder(opts: OpsModuleBuilderOptions): ImageBuilder {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const maxRetryMs = opts.maxRetryMs ?? 30_000;

  const describe = `the image builder at ${base}`;
  const client = createOpsClient({ baseUrl: base, name: describe, timeoutMs: opts.callTimeoutMs });

  return {
    describe,
    async build(
      spec: BuildSpec,
      signal: AbortSignal,
      onProgress?: BuildProgress,
      onWaiting?: (reason: string | null) => void,
    ): Promise<BuiltImage> {
      const createCall = "POST /build/create";
      const request: CreateBuildRequest = {
        appId: spec.appId,
        commitId: spec.commitId,
        dockerfile: spec.dockerfile,
        image: spec.image,
        ...(spec.repoUrl ? { repoUrl: spec.repoUrl } : {}),
      };
      let failures = 0;
      /** The builder did not answer: say so, and try again after a growing pause. */
      const waitForBuilder = async (reason: string) => {
        failures++;
        onWaiting?.(`${describe} does not answer (${failures} calls in a row): ${reason}`);
        await sleep(backoffDelay(failures, opts.pollMs, maxRetryMs), signal);
        if (signal.aborted) throw signal.reason ?? new Error("aborted");
      };
      const answered = () => {
        if (failures > 0) onWaiting?.(null);
        failures = 0;
      };
      for (;;) {
        const created = await client.call({
          op: "create",
          method: "POST",
          path: "/build/create",
          schema: CreateBuildResponse,
          body: request,
          headers: { [OPS_IDEMPOTENCY_HEADER]: spec.idempotencyKey },
          signal,
        });
        if (created.kind === "unavailable") {
          await waitForBuilder(created.reason);
          continue;
        }
        answered();
        if (created.kind === "refused") {
          throw new ImageBuildError(
            "rejected",
            `${describe} refused the build: HTTP ${created.httpStatus}: ${created.message}`,
            createCall,
          );
        }
        const buildId = created.data.buildId;
        onProgress?.({ buildId, status: created.data.status, message: "created" });
        const statusCall = `GET /build/${buildId}/status`;
        // The build's time counts only while the builder answers.
        let deadline = Date.now() + opts.timeoutMs;
        let last = created.data.status;
        let forgotten = false;
        while (!forgotten) {
          const asked = Date.now();
          const answer = await client.call({
            op: "status",
            method: "GET",
            path: `/build/${encodeURIComponent(buildId)}/status`,
            schema: LenientBuildStatus,
            signal,
          });
          if (answer.kind === "unavailable") {
            await waitForBuilder(answer.reason);
            deadline += Date.now() - asked;
            continue;
          }
          answered();
          if (answer.kind === "refused") {
            if (answer.httpStatus === 404) {
              // The builder no longer knows the build (it restarted): the same key builds again.
              onProgress?.({
                buildId,
                status: "UNKNOWN",
                message: `${describe} no longer knows build ${buildId}; creating it again`,
              });
              forgotten = true;
              continue;
            }
            throw new ImageBuildError(
              "rejected",
              `${describe} refused the status call for build ${buildId}: HTTP ${answer.httpStatus}: ${answer.message}`,
              statusCall,
              buildId,
            );
          }
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
      }
    },
  };
}

import { type z } from "zod";
import {
  LenientBuildStatus,
  readOpsAnswer,
  CreateBuildResponse,
  isTerminalOpsStatus,
  OPS_IDEMPOTENCY_HEADER,
  type CreateBuildRequest,
} from "@procode/contracts";
import { errorMessage, sleep } from "@procode/service-kit";
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

type Answer<T> =
  | { kind: "ok"; data: T }
  | { kind: "unavailable"; reason: string }
  | { kind: "refused"; status: number; reason: string };

/**
 * The reference ops module's image builder (`POST /build/create`, `GET /build/{id}/status`, the
 * `{code, message, data}` envelope of seed 3.10): creates the build with an idempotency key and polls
 * it until SUCCESS, FAILED or CANCELLED.
 */
export function createOpsModuleBuilder(opts: OpsModuleBuilderOptions): ImageBuilder {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const maxPollFailures = opts.maxPollFailures ?? 5;

  async function call<S extends z.ZodType>(
    method: "GET" | "POST",
    path: string,
    schema: S,
    signal: AbortSignal,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<z.infer<S>>> {
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.any([signal, AbortSignal.timeout(opts.callTimeoutMs)]),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return {
        kind: "unavailable",
        reason:
          e.name === "TimeoutError" || e.name === "AbortError"
            ? `no answer within ${opts.callTimeoutMs} ms`
            : `not reachable (${e.cause?.code ?? e.cause?.message ?? errorMessage(err)})`,
      };
    }
    const { envelope, message } = readOpsAnswer(status, text);
    if (status === 429 || status >= 500) return { kind: "unavailable", reason: `HTTP ${status}: ${message}` };
    if (status < 200 || status >= 300)
      return { kind: "refused", status, reason: `HTTP ${status}: ${message}` };
    if (!envelope.success)
      return { kind: "unavailable", reason: `HTTP ${status} with a body that is not its API's` };
    if (envelope.data.code !== undefined && envelope.data.code !== 0) {
      return { kind: "refused", status, reason: `code ${envelope.data.code}: ${message}` };
    }
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      const issue = data.error.issues[0];
      return { kind: "unavailable", reason: `its answer lacks data.${issue?.path.join(".") || "(body)"}` };
    }
    return { kind: "ok", data: data.data };
  }

  const describe = `the image builder at ${base}`;

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
      const created = await call("POST", "/build/create", CreateBuildResponse, signal, request, {
        [OPS_IDEMPOTENCY_HEADER]: spec.idempotencyKey,
      });
      if (created.kind === "unavailable") {
        throw new ImageBuildError("unavailable", `${describe} is unavailable: ${created.reason}`, createCall);
      }
      if (created.kind === "refused") {
        throw new ImageBuildError("rejected", `${describe} refused the build: ${created.reason}`, createCall);
      }
      const buildId = created.data.buildId;
      const statusCall = `GET /build/${buildId}/status`;
      const deadline = Date.now() + opts.timeoutMs;
      let failures = 0;
      let last = created.data.status;
      for (;;) {
        const answer = await call(
          "GET",
          `/build/${encodeURIComponent(buildId)}/status`,
          LenientBuildStatus,
          signal,
        );
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
          if (answer.kind === "refused" && answer.status !== 404) {
            throw new ImageBuildError(
              "rejected",
              `${describe} refused the status call for build ${buildId}: ${answer.reason}`,
              statusCall,
              buildId,
            );
          }
          if (failures >= maxPollFailures || (answer.kind === "refused" && answer.status === 404)) {
            throw new ImageBuildError(
              "unavailable",
              `${describe} could not report build ${buildId} (${failures} failed status calls in a row): ${answer.reason}`,
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

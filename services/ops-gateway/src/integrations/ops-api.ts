import { type z } from "zod";
import {
  CancelDeployResponse,
  CreateDeployResponse,
  LenientDeployStatus,
  type DeployStatusResponse,
  readOpsAnswer,
  OPS_IDEMPOTENCY_HEADER,
  type CreateDeployRequest,
} from "@procode/contracts";
import { errorMessage } from "@procode/service-kit";
import { isUnavailableStatus, type OpsAnswer, type OpsOperation } from "../domain/deployment.js";

/** The ops module as ops-gateway uses it (seed 3.10, plus cancel where the server has it). */
export interface OpsApi {
  createDeployment(
    request: CreateDeployRequest,
    idempotencyKey: string,
  ): Promise<OpsAnswer<CreateDeployResponse>>;
  deploymentStatus(deployId: string): Promise<OpsAnswer<DeployStatusResponse>>;
  cancelDeployment(deployId: string): Promise<OpsAnswer<Partial<CancelDeployResponse>>>;
}

export interface OpsApiOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Called once per call with the operation and how it went (metrics). */
  onCall?: (op: OpsOperation, result: OpsAnswer<unknown>["kind"]) => void;
}

/** Over real HTTP (fetch), each call bounded by `timeoutMs`. */
export function createOpsApi(opts: OpsApiOptions): OpsApi {
  async function call<S extends z.ZodType>(
    op: OpsOperation,
    method: "GET" | "POST",
    path: string,
    schema: S,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<OpsAnswer<z.infer<S>>> {
    const answer = await send(op, method, path, schema, body, headers);
    opts.onCall?.(op, answer.kind);
    return answer;
  }

  async function send<S extends z.ZodType>(
    op: OpsOperation,
    method: "GET" | "POST",
    path: string,
    schema: S,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<OpsAnswer<z.infer<S>>> {
    let status: number;
    let text: string;
    try {
      const res = await fetch(`${opts.baseUrl}${path}`, {
        method,
        headers: {
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason =
        e.name === "TimeoutError" || e.name === "AbortError"
          ? `the ops module did not answer within ${opts.timeoutMs} ms`
          : `the ops module is not reachable (${e.cause?.code ?? e.cause?.message ?? errorMessage(err)})`;
      return { kind: "unavailable", reason };
    }
    const { envelope, message } = readOpsAnswer(status, text);
    if (status < 200 || status >= 300) {
      return isUnavailableStatus(op, status)
        ? { kind: "unavailable", reason: `the ops module answered HTTP ${status}: ${message}` }
        : { kind: "refused", httpStatus: status, message };
    }
    if (!envelope.success) {
      return {
        kind: "unavailable",
        reason: `the ops module answered HTTP ${status} with a body that is not its API's`,
      };
    }
    if (envelope.data.code !== undefined && envelope.data.code !== 0) {
      return { kind: "refused", httpStatus: status, message: `code ${envelope.data.code}: ${message}` };
    }
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      const issue = data.error.issues[0];
      return {
        kind: "unavailable",
        reason: `the ops module's answer lacks data.${issue?.path.join(".") || "(body)"}`,
      };
    }
    return { kind: "ok", data: data.data };
  }

  const id = (deployId: string) => encodeURIComponent(deployId);

  return {
    createDeployment: (request, idempotencyKey) =>
      call("create", "POST", "/deploy/create", CreateDeployResponse, request, {
        [OPS_IDEMPOTENCY_HEADER]: idempotencyKey,
      }),
    deploymentStatus: (deployId) =>
      call("status", "GET", `/deploy/${id(deployId)}/status`, LenientDeployStatus),
    cancelDeployment: (deployId) =>
      call("cancel", "POST", `/deploy/${id(deployId)}/cancel`, CancelDeployResponse.partial(), {}),
  };
}

import {
  CancelDeployResponse,
  CreateDeployResponse,
  LenientDeployStatus,
  OPS_IDEMPOTENCY_HEADER,
  type CreateDeployRequest,
  type DeployStatusResponse,
  type OpsAnswer,
  type OpsOperation,
} from "@procode/contracts";
import { createOpsClient } from "@procode/service-kit";

/** The ops module as ops-gateway uses it (its deploy API, plus cancel where the server has it). */
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

/** Over real HTTP through the kit's ops client, each call bounded by `timeoutMs`. */
export function createOpsApi(opts: OpsApiOptions): OpsApi {
  const client = createOpsClient({
    baseUrl: opts.baseUrl,
    name: "the ops module",
    timeoutMs: opts.timeoutMs,
  });
  const counted = async <T>(op: OpsOperation, answer: Promise<OpsAnswer<T>>) => {
    const a = await answer;
    opts.onCall?.(op, a.kind);
    return a;
  };
  const id = (deployId: string) => encodeURIComponent(deployId);

  return {
    createDeployment: (request, idempotencyKey) =>
      counted(
        "create",
        client.call({
          op: "create",
          method: "POST",
          path: "/deploy/create",
          schema: CreateDeployResponse,
          body: request,
          headers: { [OPS_IDEMPOTENCY_HEADER]: idempotencyKey },
        }),
      ),
    deploymentStatus: (deployId) =>
      counted(
        "status",
        client.call({
          op: "status",
          method: "GET",
          path: `/deploy/${id(deployId)}/status`,
          schema: LenientDeployStatus,
        }),
      ),
    cancelDeployment: (deployId) =>
      counted(
        "cancel",
        client.call({
          op: "cancel",
          method: "POST",
          path: `/deploy/${id(deployId)}/cancel`,
          schema: CancelDeployResponse.partial(),
          body: {},
        }),
      ),
  };
}

import { RPC, ReadStageLogsReply, ReadStageLogsRequest } from "@procode/contracts";
import {
  serveRpc,
  type Database,
  type Logger,
  type NatsHandle,
  type StageLogStore,
} from "@procode/service-kit";

/**
 * READ_DEV_STAGE_LOGS (request/reply, queue group): the engine asks for a page of the log lines of a
 * pipeline's CODE_CHECK, BUILD and PACKAGE attempts, for `GET /pipelines/{id}/logs`.
 */
export function serveReadStageLogs(
  nats: NatsHandle,
  db: Database,
  logs: StageLogStore,
  log: Logger,
): ReturnType<typeof serveRpc> {
  return serveRpc(nats, {
    name: RPC.READ_DEV_STAGE_LOGS,
    request: ReadStageLogsRequest,
    reply: ReadStageLogsReply,
    queue: "dev-svc",
    log,
    handle: (q) => logs.read(db.sql, q),
  });
}

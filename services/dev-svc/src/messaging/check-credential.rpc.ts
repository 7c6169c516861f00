import { CheckCredentialReply, CheckCredentialRequest, RPC } from "@procode/contracts";
import { serveRpc, type Logger, type NatsHandle } from "@procode/service-kit";
import type { CredentialService } from "../git/credentials.service.js";

/**
 * CHECK_CREDENTIAL (request/reply, queue group): app-svc asks whether a credentialId it was given
 * names a credential of the caller's team for the repository's provider, before storing it.
 */
export function serveCheckCredential(
  nats: NatsHandle,
  credentials: CredentialService,
  log: Logger,
): ReturnType<typeof serveRpc> {
  return serveRpc(nats, {
    name: RPC.CHECK_CREDENTIAL,
    request: CheckCredentialRequest,
    reply: CheckCredentialReply,
    queue: "dev-svc",
    log,
    handle: (data) => credentials.check(data),
  });
}

import { CheckCredentialReply, CheckCredentialRequest, RPC, type GitType } from "@procode/contracts";
import { callRpc, isDomainError, type Logger, type NatsHandle } from "@procode/service-kit";

/** Why a credential cannot serve the repository, or null when it can (or could not be asked). */
export type CredentialCheck = (
  q: { team: string; credentialId: string; gitType: GitType },
  correlationId: string,
) => Promise<string | null>;

/**
 * Asks dev-svc, which owns credentials, whether a credentialId is one of the team's for the
 * repository's provider (CHECK_CREDENTIAL). When dev-svc does not answer, the app is not held up:
 * the id is kept unchecked and the binding (dev-svc's, once it is back) says whether it can be used,
 * as it always did. A wrong id is refused at once whenever dev-svc can tell.
 */
export function createCredentialCheck(nats: NatsHandle, timeoutMs: number, log: Logger): CredentialCheck {
  return async (q, correlationId) => {
    try {
      const reply = await callRpc(
        nats,
        RPC.CHECK_CREDENTIAL,
        CheckCredentialRequest,
        CheckCredentialReply,
        q,
        {
          correlationId,
          timeoutMs,
          peer: "dev-svc",
        },
      );
      return reply.usable ? null : (reply.reason ?? "is not a credential of your team");
    } catch (err) {
      if (!isDomainError(err) || err.kind !== "DEPENDENCY_UNAVAILABLE") throw err;
      log.warn(
        { correlationId, credentialId: q.credentialId, reason: err.message },
        "credential not checked (dev-svc did not answer); the repository binding will tell",
      );
      return null;
    }
  };
}

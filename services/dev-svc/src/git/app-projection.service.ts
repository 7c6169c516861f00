import type { AppSnapshot } from "@procode/contracts";
import type { Logger, Outbox } from "@procode/service-kit";
import { upsertIfNewer } from "../store/app-projection.repository.js";
import { forgetRepositoryRefs } from "../store/branch-head.repository.js";
import { findRepo, insertRepo, updateDesired, type DesiredBinding } from "../store/git-repo.repository.js";
import { emitRepositoryChanged } from "./repository-live.js";

/**
 * Applies app-svc's app events (created, pro-code config changed): keeps dev-svc's projection of the
 * app (newest revision wins, whatever order events arrive in) and turns its pro-code settings into the
 * desired repository binding, which the binder then installs.
 */
export class AppProjectionService {
  constructor(
    private readonly outbox: Outbox,
    private readonly log: Logger,
    /** Called after a binding became due, to bind it now rather than at the next poll. */
    private readonly onBindingDue: () => void,
  ) {}

  async apply(
    consumer: string,
    messageId: string,
    correlationId: string,
    snap: AppSnapshot,
  ): Promise<"done" | "duplicate" | "ignored"> {
    const result = await this.outbox.sqlTransaction(correlationId, async (tx) => {
      if (!(await tx.claim(consumer, messageId))) return "duplicate" as const;
      if (!(await upsertIfNewer(tx.sql, snap))) return "ignored" as const;
      if (snap.devMode !== "pro-code" || !snap.procode) return "done" as const;
      const p = snap.procode;
      const desired: DesiredBinding = {
        appId: snap.appId,
        team: snap.team,
        externalGitUrl: p.gitRepoUrl,
        gitType: p.gitType,
        credentialId: p.credentialId,
        webhookUrl: p.webhookUrl,
        webhookSecret: p.webhookSecret,
        scaffoldTemplate: p.scaffoldTemplate,
      };
      const current = await findRepo(tx.sql, snap.appId, { forUpdate: true });
      if (!current) {
        await insertRepo(tx.sql, desired);
        await emitRepositoryChanged(tx, snap.appId);
        return "bind" as const;
      }
      const repoChanged =
        current.externalGitUrl !== desired.externalGitUrl || current.gitType !== desired.gitType;
      const changed =
        repoChanged ||
        current.team !== desired.team ||
        current.credentialId !== desired.credentialId ||
        current.webhookUrl !== desired.webhookUrl ||
        current.webhookSecret?.keyId !== desired.webhookSecret.keyId ||
        current.webhookSecret?.ciphertext !== desired.webhookSecret.ciphertext ||
        current.scaffoldTemplate !== desired.scaffoldTemplate;
      if (!changed) return "done" as const;
      // A re-seal of the same secret under a new key also lands here; re-binding is harmless.
      await updateDesired(tx.sql, desired, {
        scaffoldReset: repoChanged || current.scaffoldTemplate !== desired.scaffoldTemplate,
      });
      if (repoChanged) await forgetRepositoryRefs(tx.sql, snap.appId);
      await emitRepositoryChanged(tx, snap.appId);
      return "bind" as const;
    });
    if (result === "bind") {
      this.log.info({ appId: snap.appId, revision: snap.revision }, "repository binding due");
      this.onBindingDue();
      return "done";
    }
    return result;
  }
}

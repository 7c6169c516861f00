import { RepositoryChanged } from "@procode/contracts";
import type { OutboxContext, Sql } from "@procode/service-kit";
import { findRepo } from "../store/git-repo.repository.js";

/**
 * Publishes an app's repository binding as it now stands (the live event `live.repository.v1`,
 * docs/api.md "Live events"), in the transaction that changed it.
 */
export async function emitRepositoryChanged(
  tx: Pick<OutboxContext, "emit"> & { sql: Sql },
  appId: number,
): Promise<void> {
  const repo = await findRepo(tx.sql, appId);
  if (!repo) return;
  tx.emit(
    RepositoryChanged,
    {
      appId: repo.appId,
      state: repo.state,
      lastError: repo.lastError,
      scaffoldState: repo.scaffoldState,
    },
    { team: repo.team },
  );
}

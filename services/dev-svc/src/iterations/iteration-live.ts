import { IterationChanged } from "@procode/contracts";
import type { OutboxContext, Sql } from "@procode/service-kit";
import { findIteration } from "../store/iteration.repository.js";

/**
 * Publishes the iteration as it now stands (the live event `live.iteration.v1`, docs/api.md "Live
 * events"), in the transaction that changed it.
 */
export async function emitIterationChanged(
  tx: Pick<OutboxContext, "emit"> & { sql: Sql },
  iterationId: number,
): Promise<void> {
  const it = await findIteration(tx.sql, iterationId);
  if (!it) return;
  tx.emit(
    IterationChanged,
    {
      iterationId: it.id,
      appId: it.appId,
      status: it.status,
      currentPhase: it.currentPhase,
      phasePipelineId: it.phasePipelineId,
      headCommit: it.headCommit,
    },
    { team: it.team },
  );
}

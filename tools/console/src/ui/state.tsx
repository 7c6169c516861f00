import { STAGE_VIEWS, type StageView } from "@procode/contracts/pipeline-view";

/** A state as the CLI shows it: symbol, word and colour together (never colour alone). */
export function StateBadge({ view, label }: { view: StageView; label?: string }) {
  const look = STAGE_VIEWS[view];
  return (
    <span className={`state state-${look.tone}`} data-state={view}>
      <span className="state-symbol" aria-hidden="true">
        {look.symbol}
      </span>
      <span>{label ?? look.word}</span>
    </span>
  );
}

/** The view of a status word of the API (pipeline, iteration, release, binding). */
function viewOfStatus(status: string): StageView {
  switch (status) {
    case "SUCCESS":
    case "RELEASED":
    case "BOUND":
    case "PUSHED":
    case "PROCESSED":
    case "DELIVERED":
    case "PASS":
      return "succeeded";
    case "FAILED":
    case "ERROR":
    case "REJECTED":
    case "BLOCK":
    case "CONFIGURATION_ERROR":
      return "failed";
    case "CANCELLED":
    case "IGNORED":
    case "SKIPPED_NOT_EMPTY":
    case "NOT_REQUESTED":
      return "cancelled";
    case "NEEDS_CREDENTIAL":
    case "WAIVED":
      return "waiting";
    case "PENDING":
    case "DRAFT":
    case "RECEIVED":
      return "pending";
    default:
      return "running";
  }
}

/** A status word of the API with its symbol and colour. */
export function StatusBadge({ status }: { status: string }) {
  return <StateBadge view={viewOfStatus(status)} label={status} />;
}

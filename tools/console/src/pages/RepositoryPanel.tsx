import { useRepo, useWebhookDeliveries } from "../api/queries";
import type { ProcodeConfig } from "../api/types";
import { Empty, ErrorNote, Loading } from "../ui/feedback";
import { StatusBadge } from "../ui/state";
import { Ago } from "../ui/time";

/** The repository binding (state, last error, webhook, scaffold) and the latest webhook deliveries. */
export function RepositoryPanel({ appId, config }: { appId: number; config: ProcodeConfig }) {
  const repo = useRepo(appId);
  const deliveries = useWebhookDeliveries(appId, repo.isSuccess);
  return (
    <section className="card" aria-labelledby="repo-title">
      <h2 id="repo-title">Repository</h2>
      {repo.isPending ? (
        <Loading what="the binding" />
      ) : repo.isError ? (
        <ErrorNote error={repo.error} title="The binding could not be read." />
      ) : (
        <dl className="facts">
          <dt>Binding</dt>
          <dd data-testid="binding-state">
            <StatusBadge status={repo.data.state} />
            {repo.data.lastError ? <span className="error-text"> {repo.data.lastError}</span> : null}
          </dd>
          <dt>URL</dt>
          <dd className="mono truncate">
            <span className="tag">{repo.data.gitType}</span> {repo.data.externalGitUrl}
          </dd>
          <dt>Credential</dt>
          <dd className="mono">
            {repo.data.credentialId ?? (config.credentialRequired ? "needed" : "none needed")}
          </dd>
          <dt>Scaffold</dt>
          <dd data-testid="scaffold-state">
            <StatusBadge status={repo.data.scaffold.state} />
            {repo.data.scaffold.message ? <span className="muted"> {repo.data.scaffold.message}</span> : null}
          </dd>
          <dt>Webhook</dt>
          <dd className="mono truncate" title={repo.data.webhookUrl ?? undefined}>
            {repo.data.webhookUrl ?? "–"}
          </dd>
        </dl>
      )}
      <h3>Webhook deliveries</h3>
      {repo.isError ? (
        <p className="muted">Shown once the binding can be read.</p>
      ) : deliveries.isPending ? (
        <Loading what="deliveries" />
      ) : deliveries.isError ? (
        <ErrorNote error={deliveries.error} />
      ) : deliveries.data.items.length === 0 ? (
        <Empty title="No deliveries yet.">
          A push to the repository shows here (LOCAL repositories call it from their hook).
        </Empty>
      ) : (
        <ul className="list">
          {deliveries.data.items.map((d) => (
            <li key={d.deliveryId} className="list-row">
              <StatusBadge status={d.status} />
              <span className="mono">{d.event ?? "–"}</span>
              <span className="muted truncate">{d.reason ?? d.deliveryId}</span>
              <Ago at={d.receivedAt} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

import { useApp } from "../api/queries";
import { NotFound, queryGate } from "../ui/feedback";
import { AppHeader } from "./AppHeader";
import { NotificationsPanel } from "./NotificationsPanel";
import { ReleaseHistory } from "./ReleaseHistory";
import { RepositoryPanel } from "./RepositoryPanel";
import { StageSettings } from "./StageSettings";

export function AppPage({ appId }: { appId: number }) {
  const app = useApp(appId);
  if (!Number.isSafeInteger(appId) || appId < 1) return <NotFound what="App" />;
  const gate = queryGate(app, "app", { page: true });
  if (gate || !app.data) return gate;
  const config = app.data.procodeConfig;
  return (
    <>
      <AppHeader app={app.data} />
      {config ? (
        <div className="grid-2">
          <RepositoryPanel appId={appId} config={config} />
          <ReleaseHistory appId={appId} />
          <StageSettings appId={appId} config={config} />
          <NotificationsPanel appId={appId} />
        </div>
      ) : (
        <p className="muted">A low-code app: it has no repository, iterations or releases here.</p>
      )}
    </>
  );
}

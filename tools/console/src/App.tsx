import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, Redirect, Route, Switch, useLocation } from "wouter";
import { whenUnauthenticated } from "./api/client";
import { readToken, signOut, tokenClaims } from "./auth/session";
import { useLive } from "./live/live";
import { AppPage } from "./pages/AppPage";
import { AppsPage } from "./pages/AppsPage";
import { IterationPage } from "./pages/IterationPage";
import { IterationsPage } from "./pages/IterationsPage";
import { PipelinePage } from "./pages/PipelinePage";
import { QualityPage } from "./pages/QualityPage";
import { SignInPage } from "./pages/SignInPage";
import { PAGES } from "./routes";
import { NotFound } from "./ui/feedback";

function LiveBanner() {
  const live = useLive();
  if (live.status !== "down") return null;
  return (
    <div className="banner" role="status" data-testid="live-banner">
      <span aria-hidden="true">◌</span> Live updates are off: {live.reason}. Pages refresh every few seconds
      instead.
    </div>
  );
}

function Header({ token }: { token: string }) {
  const [, navigate] = useLocation();
  const client = useQueryClient();
  const claims = tokenClaims(token);
  // The event stream's state (connecting, live, down), for tests and styles to read.
  const live = useLive();
  return (
    <header className="topbar" data-live={live.status}>
      <Link href="/" className="brand">
        <span className="brand-mark" aria-hidden="true">
          P
        </span>
        Pro-code
      </Link>
      <nav aria-label="Main" className="topnav">
        <Link href="/">Apps</Link>
      </nav>
      <div className="who">
        <span className="who-text" title={claims.sub ? `signed in as ${claims.sub}` : undefined}>
          {claims.sub ?? "signed in"} · team <strong>{claims.team ?? "?"}</strong>
        </span>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => {
            signOut();
            client.clear();
            navigate("/sign-in");
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

const id = (params: { id?: string }) => Number(params.id);

export function App() {
  const [location, navigate] = useLocation();
  // Read at every render: sign-in and sign-out change it, and each change of page renders again.
  const token = readToken();
  const [refusal, setRefusal] = useState<string | null>(null);
  const client = useQueryClient();

  useEffect(() => {
    whenUnauthenticated((message) => {
      signOut();
      client.clear();
      setRefusal(message);
    });
  }, [client]);

  if (location === PAGES.signIn) {
    return (
      <SignInPage
        refusal={refusal}
        onSignedIn={(next) => {
          setRefusal(null);
          navigate(next);
        }}
      />
    );
  }
  if (!token) {
    return <Redirect to={`${PAGES.signIn}?next=${encodeURIComponent(location)}`} replace />;
  }
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header token={token} />
      <LiveBanner />
      <main id="main" className="main" tabIndex={-1}>
        <Switch>
          <Route path={PAGES.apps}>
            <AppsPage />
          </Route>
          <Route path="/apps">
            <Redirect to="/" replace />
          </Route>
          <Route path={PAGES.appIterations}>{(p) => <IterationsPage appId={id(p)} />}</Route>
          <Route path={PAGES.appQuality}>{(p) => <QualityPage appId={id(p)} />}</Route>
          <Route path={PAGES.app}>{(p) => <AppPage appId={id(p)} />}</Route>
          <Route path={PAGES.iteration}>{(p) => <IterationPage iterationId={id(p)} />}</Route>
          <Route path={PAGES.pipeline}>{(p) => <PipelinePage pipelineId={id(p)} />}</Route>
          <Route>
            <NotFound what="Page" />
          </Route>
        </Switch>
      </main>
    </div>
  );
}

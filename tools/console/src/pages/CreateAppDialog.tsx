import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useLocation } from "wouter";
import { api, unwrap } from "../api/client";
import { useCredentials } from "../api/queries";
import type { App, CreateAppBody } from "../api/types";
import { useLive } from "../live/live";
import { repositoryReady } from "../live/repositories";
import { Dialog } from "../ui/dialog";
import { ErrorNote } from "../ui/feedback";

type GitType = NonNullable<CreateAppBody["gitType"]>;
const GIT_TYPES: GitType[] = ["LOCAL", "GITLAB", "GITHUB", "GITEE"];

/** The git type a URL names (local:// is LOCAL); the API detects the others from the host. */
const gitTypeOf = (url: string): GitType | "" => (url.trim().startsWith("local://") ? "LOCAL" : "");

/** How long a new app's dialog waits for dev-svc to know its repository before opening its page. */
const SETUP_WAIT_MS = 15_000;
const SETUP_POLL_MS = 500;

const createApp = (body: CreateAppBody): Promise<App> => unwrap(api.POST("/apps", { body }));

/** Whether GET /apps/{id}/repo answers (dev-svc knows the app's repository). */
const repoReadable = async (appId: number): Promise<boolean> => {
  const { response } = await api.GET("/apps/{id}/repo", { params: { path: { id: appId } } });
  return response.ok;
};

/**
 * The "New app" dialog. A pro-code app's page reads its repository from dev-svc, which learns of the
 * app from app-svc's event a moment after POST /apps answers: the dialog waits for that (the
 * `repository` event, or while the stream is down a readable binding; at most SETUP_WAIT_MS) before
 * it opens the page, so the page never asks too early (docs/console.md, "A new app's page").
 */
export function CreateAppDialog({
  onClose,
  create: createCall = createApp,
  readRepo = repoReadable,
  waitMs = SETUP_WAIT_MS,
}: {
  onClose: () => void;
  create?: (body: CreateAppBody) => Promise<App>;
  readRepo?: (appId: number) => Promise<boolean>;
  waitMs?: number;
}) {
  const [, navigate] = useLocation();
  const client = useQueryClient();
  const live = useLive();
  const isLive = useRef(live.status === "live");
  useEffect(() => {
    isLive.current = live.status === "live";
  }, [live.status]);
  const [settingUp, setSettingUp] = useState(false);
  // Closing the dialog (or leaving the page) while it waits: no page is opened afterwards.
  const gone = useRef(new AbortController());
  useEffect(() => {
    const controller = new AbortController();
    gone.current = controller;
    return () => controller.abort();
  }, []);
  const [name, setName] = useState("");
  const [devMode, setDevMode] = useState<CreateAppBody["devMode"]>("pro-code");
  const [repoUrl, setRepoUrl] = useState("local://sample-agent");
  const [gitType, setGitType] = useState<GitType | "">("");
  const [credentialId, setCredentialId] = useState("");
  const [scaffold, setScaffold] = useState(true);
  const proCode = devMode === "pro-code";
  const effectiveType = gitType || gitTypeOf(repoUrl);
  const credentials = useCredentials(proCode);
  const usable = credentials.data?.items.filter((c) => !effectiveType || c.gitType === effectiveType) ?? [];

  const create = useMutation({
    mutationFn: async () => {
      const body: CreateAppBody = proCode
        ? {
            name,
            devMode,
            techStack: "python",
            gitRepoUrl: repoUrl.trim(),
            ...(gitType ? { gitType } : {}),
            ...(credentialId ? { credentialId } : {}),
            ...(scaffold ? { scaffoldTemplate: "python-agent" } : {}),
          }
        : { name, devMode };
      const app = await createCall(body);
      void client.invalidateQueries({ queryKey: ["apps"] });
      // A low-code app has no repository: nothing to wait for.
      if (!app.procodeConfig) return { app, ready: "event" as const };
      setSettingUp(true);
      const ready = await repositoryReady(app.id, {
        isLive: () => isLive.current,
        read: readRepo,
        timeoutMs: waitMs,
        pollMs: SETUP_POLL_MS,
        signal: gone.current.signal,
      });
      return { app, ready };
    },
    onSuccess: ({ app, ready }) => {
      // Past the wait the page opens anyway: it reads the binding again when its event comes.
      if (ready !== "aborted") navigate(`/apps/${app.id}`);
    },
  });

  return (
    <Dialog title="New app" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!create.isPending) create.mutate();
        }}
      >
        <label htmlFor="app-name">Name</label>
        <input
          id="app-name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="my-agent"
          autoFocus
        />
        <fieldset className="segmented">
          <legend>Development mode</legend>
          {(["pro-code", "low-code"] as const).map((m) => (
            <label key={m}>
              <input type="radio" name="devMode" checked={devMode === m} onChange={() => setDevMode(m)} /> {m}
            </label>
          ))}
        </fieldset>
        {proCode ? (
          <>
            <label htmlFor="app-repo">Repository URL</label>
            <input
              id="app-repo"
              required
              value={repoUrl}
              onChange={(e) => setRepoUrl(e.target.value)}
              placeholder="https://gitlab.example.com/team/agent.git or local://name"
              spellCheck={false}
            />
            <p className="hint">
              Tech stack: python. An empty repository gets the scaffold as its first commit.
            </p>
            <div className="row-2">
              <div>
                <label htmlFor="app-gittype">Git provider</label>
                <select
                  id="app-gittype"
                  value={gitType}
                  onChange={(e) => setGitType(e.target.value as GitType | "")}
                >
                  <option value="">Detect from the URL</option>
                  {GIT_TYPES.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              </div>
              <div>
                <label htmlFor="app-credential">Credential</label>
                <select
                  id="app-credential"
                  value={credentialId}
                  onChange={(e) => setCredentialId(e.target.value)}
                >
                  <option value="">
                    {effectiveType === "LOCAL" ? "None (LOCAL needs none)" : "None yet"}
                  </option>
                  {usable.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name} ({c.gitType}
                      {c.username ? `, ${c.username}` : ""})
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <label className="check">
              <input type="checkbox" checked={scaffold} onChange={(e) => setScaffold(e.target.checked)} />
              <span>
                Push the <strong>python-agent</strong> scaffold as the first commit
              </span>
            </label>
          </>
        ) : null}
        {create.isError ? <ErrorNote error={create.error} title="Not created." /> : null}
        {settingUp ? (
          <p className="loading" role="status" aria-live="polite">
            <span className="spinner" aria-hidden="true" /> Setting up the repository…
          </p>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" aria-disabled={create.isPending}>
            {create.isPending ? (settingUp ? "Setting up…" : "Creating…") : "Create app"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

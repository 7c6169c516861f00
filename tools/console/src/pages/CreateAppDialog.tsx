import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useLocation } from "wouter";
import { api, unwrap } from "../api/client";
import { useCredentials } from "../api/queries";
import type { CreateAppBody } from "../api/types";
import { Dialog } from "../ui/dialog";
import { ErrorNote } from "../ui/feedback";

type GitType = NonNullable<CreateAppBody["gitType"]>;
const GIT_TYPES: GitType[] = ["LOCAL", "GITLAB", "GITHUB", "GITEE"];

/** The git type a URL names (local:// is LOCAL); the API detects the others from the host. */
const gitTypeOf = (url: string): GitType | "" => (url.trim().startsWith("local://") ? "LOCAL" : "");

export function CreateAppDialog({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const client = useQueryClient();
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
    mutationFn: () => {
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
      return unwrap(api.POST("/apps", { body }));
    },
    onSuccess: (app) => {
      void client.invalidateQueries({ queryKey: ["apps"] });
      navigate(`/apps/${app.id}`);
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
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" aria-disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create app"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

import path from "node:path";
import { BareRepo, git } from "@procode/git-emulators";
import { eventually, type TestInfra } from "@procode/test-kit";
import {
  appSnapshot,
  bearer,
  newAppId,
  publishAppEvent,
  randomSecret,
  type AppSpec,
  type DevSvc,
} from "../dev-svc.js";

export type Files = Record<string, string>;

/** A small Python agent that passes every check: requirements.txt, entry point app/main.py. */
export const GOOD_PROJECT: Files = {
  "requirements.txt": "# runtime\nrequests==2.32.3\n",
  ".python-version": "3.11\n",
  "app/__init__.py": "",
  "app/main.py":
    'from app.agent import answer\n\n\ndef main() -> None:\n    print(answer("hi"))\n\n\nif __name__ == "__main__":\n    main()\n',
  "app/agent.py": 'def answer(text: str) -> str:\n    return f"you said {text}"\n',
  "README.md": "# agent\n",
};

const AUTHOR = { name: "Tester", email: "tester@example.com" };

/** A commit on `main` writing `files` (the branch is created in an empty repository). */
export async function commitFiles(repo: BareRepo, files: Files, message = "change"): Promise<string> {
  return repo.commitActions(
    "main",
    message,
    Object.entries(files).map(([p, content]) => ({
      action: "create" as const,
      path: p,
      content: Buffer.from(content),
    })),
    AUTHOR,
    null,
  );
}

/** Points (or moves) a lightweight tag at a commit. */
export async function tag(repo: BareRepo, name: string, commit: string): Promise<void> {
  await repo.updateRef(`refs/tags/${name}`, commit, null);
}

/** A bare repository `<root>/<name>.git`, empty or with one commit of `files` tagged `tagName`. */
export async function localRepo(
  root: string,
  name: string,
  files?: Files,
  tagName = "v1.0.0",
): Promise<{ repo: BareRepo; commit: string | null }> {
  const dir = path.join(root, `${name}.git`);
  await git(null, ["init", "--bare", "--quiet", "--initial-branch=main", dir]);
  const repo = new BareRepo(dir);
  if (!files) return { repo, commit: null };
  const commit = await commitFiles(repo, files, "Initial commit");
  await tag(repo, tagName, commit);
  return { repo, commit };
}

/** The app's repository binding as GET /apps/{id}/repo shows it. */
export async function repoBinding(svc: DevSvc, infra: TestInfra, appId: number) {
  const res = await svc.deps.app.inject({
    url: `/apps/${appId}/repo`,
    headers: { authorization: await bearer(infra) },
  });
  return res.json().data as {
    state: string;
    lastError: string | null;
    scaffold: { state: string; message: string | null };
  } | null;
}

/** Publishes `app.created.v1` for a pro-code app and waits until dev-svc has bound its repository. */
export async function createApp(
  svc: DevSvc,
  infra: TestInfra,
  keys: string,
  spec: Partial<AppSpec> & Pick<AppSpec, "gitType" | "gitRepoUrl">,
  opts: { waitFor?: (b: NonNullable<Awaited<ReturnType<typeof repoBinding>>>) => boolean } = {},
): Promise<AppSpec> {
  const appId = spec.appId ?? newAppId();
  const full: AppSpec = {
    appId,
    webhookUrl: `http://127.0.0.1:9/webhooks/${spec.gitType.toLowerCase()}/${appId}`,
    webhookSecret: randomSecret(),
    ...spec,
  };
  await publishAppEvent(svc, "created", appSnapshot(keys, full));
  const ready = opts.waitFor ?? ((b) => b.state === "BOUND");
  await eventually(async () => {
    const b = await repoBinding(svc, infra, appId);
    return b !== null && ready(b);
  }, `app ${appId} bound`);
  return full;
}

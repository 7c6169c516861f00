/**
 * The three git hosting emulators for the local run: GitLab on 8091, GitHub on 8092, Gitee on 8093
 * (GIT_EMULATOR_GITLAB_PORT / _GITHUB_PORT / _GITEE_PORT), repositories under GIT_EMULATOR_DATA
 * (default `.local/git-emulators` in the working directory), one API token for all three
 * (GIT_EMULATOR_TOKEN, default `procode-dev-token`, user `developer`).
 */
import path from "node:path";
import {
  createGiteeEmulator,
  createGitHubEmulator,
  createGitLabEmulator,
  type GitEmulator,
} from "./index.js";

const dataDir = path.resolve(process.env["GIT_EMULATOR_DATA"] ?? ".local/git-emulators");
const token = process.env["GIT_EMULATOR_TOKEN"] ?? "procode-dev-token";
const host = process.env["GIT_EMULATOR_HOST"] ?? "127.0.0.1";
const tokens = { [token]: "developer" };

const emulators: [string, GitEmulator][] = [
  [
    "gitlab",
    createGitLabEmulator({
      dataDir: path.join(dataDir, "gitlab"),
      port: Number(process.env["GIT_EMULATOR_GITLAB_PORT"] ?? 8091),
      host,
      tokens,
    }),
  ],
  [
    "github",
    createGitHubEmulator({
      dataDir: path.join(dataDir, "github"),
      port: Number(process.env["GIT_EMULATOR_GITHUB_PORT"] ?? 8092),
      host,
      tokens,
    }),
  ],
  [
    "gitee",
    createGiteeEmulator({
      dataDir: path.join(dataDir, "gitee"),
      port: Number(process.env["GIT_EMULATOR_GITEE_PORT"] ?? 8093),
      host,
      tokens,
    }),
  ],
];

for (const [name, emu] of emulators) {
  await emu.start();
  process.stdout.write(
    `${JSON.stringify({ level: 30, time: new Date().toISOString(), msg: `${name} emulator listening`, url: emu.url, api: emu.apiUrl })}\n`,
  );
}

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void Promise.allSettled(emulators.map(([, e]) => e.close())).then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

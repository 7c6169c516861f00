export { GitEmulator, type EmulatorOptions } from "./emulator.js";
export { BareRepo, git } from "./git.js";
export { createGitLabEmulator } from "./gitlab.js";
export { createGitHubEmulator } from "./github.js";
export { createGiteeEmulator } from "./gitee.js";
export { giteeSignature, gitlabWebhookSignature } from "./hooks-signing.js";

export {
  GitEmulator,
  type DeliveryRecord,
  type EmulatorOptions,
  type ProviderKind,
  type RefChange,
  type RequestRecord,
} from "./emulator.js";
export { Faults, type FaultState } from "./faults.js";
export { BareRepo, git, ZERO_SHA, type CommitInfo, type TreeEntry } from "./git.js";
export { createGitLabEmulator, gitlabModule } from "./gitlab.js";
export { createGitHubEmulator, githubModule } from "./github.js";
export { createGiteeEmulator, giteeModule } from "./gitee.js";
export { giteeSignature, githubSignature256, gitlabWebhookSignature } from "./hooks-signing.js";
export { RepoStore, type CreateRepoOptions, type HookConfig, type StoredRepo } from "./repo-store.js";

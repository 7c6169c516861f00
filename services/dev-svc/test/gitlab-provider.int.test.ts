import { describe } from "vitest";
import { remoteProviderSuite } from "./support/remote-contract.js";

describe("GitLab adapter against the GitLab emulator", () => {
  remoteProviderSuite("GITLAB", "GitLab");
});

import { describe } from "vitest";
import { remoteProviderSuite } from "./support/remote-contract.js";

describe("Gitee adapter against the Gitee emulator", () => {
  remoteProviderSuite("GITEE", "Gitee");
});

import { describe } from "vitest";
import { remoteProviderSuite } from "./support/remote-contract.js";

describe("GitHub adapter against the GitHub emulator", () => {
  remoteProviderSuite("GITHUB", "GitHub");
});

import { describe, expect, it } from "vitest";
import { bindRetryDelayMs, needsCredential } from "../src/domain/binding.js";
import { isSafeRepoPath, isValidRefName } from "../src/domain/git-refs.js";
import { locateRepository } from "../src/domain/repository-location.js";
import { localIdeHint, renderWebIdeUrl } from "../src/domain/webide.js";
import { callWithPolicy } from "../src/integrations/git/call-policy.js";
import { GitProviderError } from "../src/integrations/git/errors.js";

describe("where a repository's provider API is", () => {
  it("derives the API base and project path of hosted and self-hosted providers", () => {
    expect(locateRepository("https://gitlab.example.com/team/sub/agent.git", "GITLAB")).toEqual({
      ok: true,
      location: {
        kind: "remote",
        gitType: "GITLAB",
        origin: "https://gitlab.example.com",
        apiBase: "https://gitlab.example.com/api/v4",
        projectPath: "team/sub/agent",
        owner: "team/sub",
        name: "agent",
        cloneUrl: "https://gitlab.example.com/team/sub/agent.git",
      },
    });
    expect(locateRepository("https://github.com/acme/agent", "GITHUB")).toMatchObject({
      location: { apiBase: "https://api.github.com", owner: "acme", name: "agent" },
    });
    expect(locateRepository("https://ghe.corp.example/acme/agent.git", "GITHUB")).toMatchObject({
      location: { apiBase: "https://ghe.corp.example/api/v3" },
    });
    expect(locateRepository("https://gitee.com/acme/agent.git", "GITEE")).toMatchObject({
      location: { apiBase: "https://gitee.com/api/v5", projectPath: "acme/agent" },
    });
    expect(locateRepository("local://agent", "LOCAL")).toEqual({
      ok: true,
      location: { kind: "local", gitType: "LOCAL", name: "agent" },
    });
  });

  it("refuses what cannot name a repository", () => {
    for (const [url, type] of [
      ["https://github.com/acme", "GITHUB"],
      ["https://github.com/a/b/c", "GITHUB"],
      ["ftp://gitlab.example.com/a/b", "GITLAB"],
      ["https://user:pw@gitlab.example.com/a/b", "GITLAB"],
      ["https://gitlab.example.com/a/../b", "GITLAB"],
      ["local://../etc", "LOCAL"],
      ["local://a/b", "LOCAL"],
      ["local://-rf", "LOCAL"],
      ["not a url", "GITEE"],
    ] as const) {
      expect(locateRepository(url, type).ok, url).toBe(false);
    }
  });
});

describe("ref names and paths", () => {
  it("follows git's ref-name rules", () => {
    for (const ok of ["main", "feature/x", "v1.0.0", "release-2026.03"])
      expect(isValidRefName(ok), ok).toBe(true);
    for (const bad of [
      "",
      "-x",
      "a..b",
      "a b",
      "x.lock",
      "a/.b",
      "a~1",
      "a^",
      "a:b",
      "@",
      "a@{1}",
      "a\\b",
      "/a",
      "a/",
    ]) {
      expect(isValidRefName(bad), bad).toBe(false);
    }
  });

  it("accepts only relative paths inside the repository", () => {
    expect(isSafeRepoPath("src/app/main.py")).toBe(true);
    for (const bad of ["", "/etc/passwd", "../x", "a/../../x", "a//b", ".git/config", "a/./b"]) {
      expect(isSafeRepoPath(bad), bad).toBe(false);
    }
  });
});

describe("binding and WebIDE rules", () => {
  it("needs a credential for hosted providers only, and backs off with a cap", () => {
    expect(needsCredential("GITLAB")).toBe(true);
    expect(needsCredential("LOCAL")).toBe(false);
    expect([1, 2, 3, 10].map((n) => bindRetryDelayMs(n, 2000, 300000))).toEqual([2000, 4000, 8000, 300000]);
  });

  it("fills the WebIDE template with URL-encoded values", () => {
    expect(
      renderWebIdeUrl("https://ide.example.com/#/?repo={cloneUrl}&ref={branch}", {
        cloneUrl: "https://git.example.com/a/b.git",
        branch: "feature/x y",
      }),
    ).toBe("https://ide.example.com/#/?repo=https%3A%2F%2Fgit.example.com%2Fa%2Fb.git&ref=feature%2Fx%20y");
    expect(localIdeHint("https://g/a.git", "main", "no WebIDE")).toBe(
      "no WebIDE; use a local IDE: git clone --branch main https://g/a.git",
    );
  });
});

describe("the provider call policy", () => {
  const policy = { timeoutMs: 2000, maxRetries: 3, retryBaseMs: 5 };
  const transient = () => new GitProviderError("unavailable", "down", 503, true);

  it("retries transient failures up to three times, then fails saying how many attempts", async () => {
    let calls = 0;
    await expect(
      callWithPolicy(policy, "P", "op", async () => {
        calls++;
        throw transient();
      }),
    ).rejects.toThrow(/after 4 attempts/);
    expect(calls).toBe(4);
    calls = 0;
    expect(
      await callWithPolicy(policy, "P", "op", async () => {
        if (++calls < 3) throw transient();
        return "ok";
      }),
    ).toBe("ok");
    expect(calls).toBe(3);
  });

  it("never retries a non-transient failure, and stops at the time budget", async () => {
    let calls = 0;
    await expect(
      callWithPolicy(policy, "P", "op", async () => {
        calls++;
        throw new GitProviderError("rejected", "400", 400, false);
      }),
    ).rejects.toMatchObject({ failure: "rejected", code: 1007 });
    expect(calls).toBe(1);
    const started = Date.now();
    await expect(
      callWithPolicy(
        { ...policy, timeoutMs: 150 },
        "P",
        "op",
        ({ signal }) =>
          new Promise((_r, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))),
      ),
    ).rejects.toMatchObject({
      failure: "timeout",
      code: 1006,
      message: "P did not answer within 150 ms (op); retry later",
    });
    // Without the budget the call would never end; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

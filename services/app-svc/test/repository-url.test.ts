import { describe, expect, it } from "vitest";
import { detectGitType } from "@procode/contracts";
import { classifyRepositoryUrl, webhookUrlFor } from "../src/domain/repository-url.js";

const on = { localEnabled: true };

describe("detectGitType", () => {
  it.each([
    ["github.com", "GITHUB"],
    ["www.github.com", "GITHUB"],
    ["gitee.com", "GITEE"],
    ["gitlab.com", "GITLAB"],
    ["gitlab.example.com", "GITLAB"],
    ["code-gitlab.corp", "GITLAB"],
    ["GitHub.com.", "GITHUB"],
    ["git.example.com", null],
    ["notgithub.com", null],
    ["github.com.evil.example", null],
  ])("%s -> %s", (host, type) => {
    expect(detectGitType(host)).toBe(type);
  });
});

describe("classifyRepositoryUrl", () => {
  it("detects the provider from the host and defaults a silent host to GITLAB", () => {
    expect(classifyRepositoryUrl("https://github.com/a/b.git", undefined, on)).toEqual({
      ok: true,
      value: { kind: "http", url: "https://github.com/a/b.git", gitType: "GITHUB" },
    });
    expect(classifyRepositoryUrl("https://git.corp.example/a/b", undefined, on)).toMatchObject({
      ok: true,
      value: { gitType: "GITLAB" },
    });
    expect(classifyRepositoryUrl("https://git.corp.example/a/b", "GITEE", on)).toMatchObject({
      ok: true,
      value: { gitType: "GITEE" },
    });
  });

  it("normalizes the host's case and trailing slashes, keeps the path", () => {
    expect(
      classifyRepositoryUrl(" https://GitLab.Example.com:443/Team/Agent.git/ ", undefined, on),
    ).toMatchObject({
      ok: true,
      value: { url: "https://gitlab.example.com/Team/Agent.git" },
    });
    expect(classifyRepositoryUrl("http://h.example:8080/a/b", undefined, on)).toMatchObject({
      ok: true,
      value: { url: "http://h.example:8080/a/b" },
    });
  });

  it.each([
    ["https://github.com/a/b", "GITLAB", "gitType"],
    ["https://gitee.com/a/b", "GITHUB", "gitType"],
    ["https://gitlab.example.com/a/b", "GITHUB", "gitType"],
    ["https://gitlab.example.com/a/b", "LOCAL", "gitType"],
    ["local://agent", "GITHUB", "gitType"],
    ["file:///etc/passwd", undefined, "gitRepoUrl"],
    ["ssh://git@h/a.git", undefined, "gitRepoUrl"],
    ["javascript:alert(1)", undefined, "gitRepoUrl"],
    ["https://u:p@h.example/a", undefined, "gitRepoUrl"],
    ["https://h.example/a?x=1", undefined, "gitRepoUrl"],
    ["https://h.example/a#top", undefined, "gitRepoUrl"],
    ["https://h.example", undefined, "gitRepoUrl"],
    ["not a url", undefined, "gitRepoUrl"],
    ["local://..", undefined, "gitRepoUrl"],
    ["local://a/b", undefined, "gitRepoUrl"],
    ["local://", undefined, "gitRepoUrl"],
    ["local://-x", undefined, "gitRepoUrl"],
    ["local://a?b", undefined, "gitRepoUrl"],
    // Accepted once, though dev-svc could never bind them: the grammar is one now (contracts).
    ["https://h.example/a", undefined, "gitRepoUrl"],
    ["https://github.com/a/b/c", undefined, "gitRepoUrl"],
    ["https://gitee.com/a", undefined, "gitRepoUrl"],
    ["https://git.corp.example/a/b/c", "GITHUB", "gitRepoUrl"],
    ["https://gitlab.example.com/a/b%20c", undefined, "gitRepoUrl"],
    ["https://gitlab.example.com/a/~b", undefined, "gitRepoUrl"],
  ] as const)("refuses %s (gitType %s) as 1001 on %s", (url, given, field) => {
    const ruling = classifyRepositoryUrl(url, given, on);
    expect(ruling.ok).toBe(false);
    if (!ruling.ok) {
      expect(ruling.problem.kind).toBe("INVALID_PARAMETER");
      expect(ruling.problem.field).toBe(field);
      expect(ruling.problem.rule.length).toBeGreaterThan(5);
    }
  });

  it("accepts local://<name> only when local repositories are enabled", () => {
    expect(classifyRepositoryUrl("local://my-agent_1.git", undefined, on)).toEqual({
      ok: true,
      value: { kind: "local", url: "local://my-agent_1.git", name: "my-agent_1", gitType: "LOCAL" },
    });
    expect(classifyRepositoryUrl("local://agent/", "LOCAL", on)).toMatchObject({ ok: true });
    expect(classifyRepositoryUrl("local://agent", undefined, { localEnabled: false })).toEqual({
      ok: false,
      problem: { kind: "INVALID_PARAMETER", field: "gitRepoUrl", rule: "local repositories are not enabled" },
    });
  });
});

describe("webhookUrlFor", () => {
  it("is the public base URL, /webhooks, the provider in lowercase and the app id", () => {
    expect(webhookUrlFor("https://platform.example.com/", "GITLAB", 123)).toBe(
      "https://platform.example.com/webhooks/gitlab/123",
    );
    expect(webhookUrlFor("http://127.0.0.1:8080", "LOCAL", 7)).toBe("http://127.0.0.1:8080/webhooks/local/7");
  });
});

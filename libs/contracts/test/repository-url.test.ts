import { describe, expect, it } from "vitest";
import { readRepositoryUrl, type GitType } from "../src/index.js";

/**
 * app-svc stores what `readRepositoryUrl(gitRepoUrl, gitType)` reads (the URL and its provider);
 * dev-svc binds by reading the stored pair again. The table covers each provider, the forms that
 * normalize, and the forms app-svc once accepted that dev-svc could not bind.
 */
describe("one repository-URL grammar for app-svc and dev-svc", () => {
  const accepted: [string, GitType | undefined, GitType, string, string][] = [
    // url, gitType given, provider, URL stored, project path (or LOCAL name)
    [
      "https://gitlab.example.com/team/sub/agent.git",
      undefined,
      "GITLAB",
      "https://gitlab.example.com/team/sub/agent.git",
      "team/sub/agent",
    ],
    [
      " https://GitLab.Example.com:443/Team/Agent.git/ ",
      undefined,
      "GITLAB",
      "https://gitlab.example.com/Team/Agent.git",
      "Team/Agent",
    ],
    ["http://h.example:8080/a/b", undefined, "GITLAB", "http://h.example:8080/a/b", "a/b"],
    ["https://git.corp.example/a/b", "GITEE", "GITEE", "https://git.corp.example/a/b", "a/b"],
    ["https://github.com/acme/agent", undefined, "GITHUB", "https://github.com/acme/agent", "acme/agent"],
    [
      "https://ghe.corp.example/acme/agent.git",
      "GITHUB",
      "GITHUB",
      "https://ghe.corp.example/acme/agent.git",
      "acme/agent",
    ],
    [
      "https://gitee.com/acme/agent.git",
      undefined,
      "GITEE",
      "https://gitee.com/acme/agent.git",
      "acme/agent",
    ],
    ["local://agent", undefined, "LOCAL", "local://agent", "agent"],
    ["local://my-agent_1.git/", "LOCAL", "LOCAL", "local://my-agent_1.git", "my-agent_1"],
  ];

  it.each(accepted)(
    "%s (gitType %s) is a %s repository that reads the same once stored",
    (raw, given, gitType, url, path) => {
      const first = readRepositoryUrl(raw, given);
      expect(first).toMatchObject({ ok: true, url, location: { gitType } });
      if (!first.ok) return;
      const where = first.location.kind === "local" ? first.location.name : first.location.projectPath;
      expect(where).toBe(path);
      // What dev-svc reads from what app-svc stored: the same location.
      expect(readRepositoryUrl(first.url, first.location.gitType)).toEqual(first);
    },
  );

  const refused: [string, GitType | undefined, "gitRepoUrl" | "gitType"][] = [
    ["not a url", undefined, "gitRepoUrl"],
    ["ftp://gitlab.example.com/a/b", undefined, "gitRepoUrl"],
    ["https://u:p@gitlab.example.com/a/b", undefined, "gitRepoUrl"],
    ["https://gitlab.example.com/a/b?x=1", undefined, "gitRepoUrl"],
    ["https://gitlab.example.com", undefined, "gitRepoUrl"],
    // These app-svc accepted while dev-svc could not bind them.
    ["https://h.example/a", undefined, "gitRepoUrl"],
    ["https://github.com/a/b/c", undefined, "gitRepoUrl"],
    ["https://gitee.com/acme", undefined, "gitRepoUrl"],
    ["https://gitlab.example.com/a/b%20c", undefined, "gitRepoUrl"],
    ["https://git.corp.example/a/b/c", "GITHUB", "gitRepoUrl"],
    ["https://github.com/a/b", "GITLAB", "gitType"],
    ["https://gitlab.example.com/a/b", "LOCAL", "gitType"],
    ["local://agent", "GITHUB", "gitType"],
    ["local://../etc", "LOCAL", "gitRepoUrl"],
    ["local://a/b", undefined, "gitRepoUrl"],
    ["local://-rf", undefined, "gitRepoUrl"],
    ["local://.git", undefined, "gitRepoUrl"],
  ];

  it.each(refused)("refuses %s (gitType %s), naming %s", (raw, given, field) => {
    const reading = readRepositoryUrl(raw, given);
    expect(reading.ok).toBe(false);
    if (!reading.ok) {
      expect(reading.problem.field).toBe(field);
      expect(reading.problem.rule.length).toBeGreaterThan(5);
    }
  });
});

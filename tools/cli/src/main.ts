#!/usr/bin/env node
/**
 * `procode`: the command-line client for everything the REST API does (SPEC 8), in the style of
 * glab / argo / tkn. Reads the gateway URL and token from --url/--token, PROCODE_URL/PROCODE_TOKEN,
 * or ~/.config/procode/config.json (`procode login`). `--json` prints the response data for scripts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import type {
  App,
  Credential,
  Iteration,
  Page,
  Pipeline,
  ReleaseResponse,
  RepoBinding,
} from "@procode/contracts";
import { api, CliError, CONFIG_FILE, query, resolveConnection, type Connection } from "./client.js";
import { bold, dim, green, red, table } from "./render.js";
import { watchPipeline } from "./watch.js";

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

const program = new Command()
  .name("procode")
  .description("Pro-code: apps, iterations, releases and pipelines")
  .option("--url <url>", "gateway URL (env PROCODE_URL; default http://127.0.0.1:8080)")
  .option("--token <jwt>", "bearer token (env PROCODE_TOKEN)")
  .option("--json", "print the response data as JSON")
  .showHelpAfterError()
  .exitOverride();

const globals = () => program.opts<GlobalOptions>();
const conn = (): Connection => resolveConnection(globals());
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`"${v}" is not a positive integer`, 2);
  return n;
};

/** Prints data as JSON with --json, else the human form. */
function out<T>(data: T, human: (d: T) => string): void {
  process.stdout.write(`${globals().json ? JSON.stringify(data, null, 2) : human(data)}\n`);
}

// ---- login ---------------------------------------------------------------------------------------

program
  .command("login")
  .description("save the gateway URL and token to ~/.config/procode/config.json")
  .requiredOption("--token <jwt>", "bearer token")
  .option("--url <url>", "gateway URL", "http://127.0.0.1:8080")
  .action((opts: { token: string; url: string }) => {
    mkdirSync(path.dirname(CONFIG_FILE), { recursive: true });
    writeFileSync(CONFIG_FILE, JSON.stringify({ url: opts.url, token: opts.token }, null, 2), {
      mode: 0o600,
    });
    out({ url: opts.url, configFile: CONFIG_FILE }, (d) => `saved ${d.url} to ${d.configFile}`);
  });

// ---- apps ----------------------------------------------------------------------------------------

const appCmd = program.command("app").description("agent apps");

const appLine = (a: App) =>
  [
    `${bold(a.name)} ${dim(`#${a.id}`)}  ${a.devMode}${a.techStack ? ` ${a.techStack}` : ""}  team ${a.team}`,
    ...(a.procodeConfig
      ? [
          `  repository  ${a.procodeConfig.gitRepoUrl} (${a.procodeConfig.gitType})`,
          `  webhook     ${a.procodeConfig.webhookUrl}`,
          `  phases      ${a.procodeConfig.phases.join(" -> ")}`,
          `  stages      ${Object.entries(a.procodeConfig.effectiveStageConfigs)
            .map(([s, c]) => `${s} ${c.driveMode}/${c.retryMode}x${c.maxRetries}`)
            .join(", ")}`,
        ]
      : []),
  ].join("\n");

appCmd
  .command("create")
  .description("create an app (POST /apps)")
  .requiredOption("--name <name>", "1-100 characters, unique")
  .addOption(
    new Option("--dev-mode <mode>", "development mode").choices(["low-code", "pro-code"]).default("pro-code"),
  )
  .option("--tech-stack <stack>", "tech stack (pro-code)", "python")
  .option(
    "--repo <url>",
    "git repository URL (pro-code), e.g. https://gitlab.example.com/team/agent.git or local://name",
  )
  .option("--scaffold <template>", "scaffold template pushed to an empty repository, e.g. python-agent")
  .option("--git-type <type>", "GITLAB | GITHUB | GITEE | LOCAL (detected from the URL when omitted)")
  .option("--credential <id>", "credential id for the repository")
  .action(
    async (o: {
      name: string;
      devMode: string;
      techStack: string;
      repo?: string;
      scaffold?: string;
      gitType?: string;
      credential?: string;
    }) => {
      const proCode = o.devMode === "pro-code";
      const app = await api<App>(conn(), "POST", "/apps", {
        name: o.name,
        devMode: o.devMode,
        ...(proCode ? { techStack: o.techStack, gitRepoUrl: o.repo } : {}),
        ...(o.scaffold ? { scaffoldTemplate: o.scaffold } : {}),
        ...(o.gitType ? { gitType: o.gitType } : {}),
        ...(o.credential ? { credentialId: o.credential } : {}),
      });
      out(app, (a) =>
        [
          `${green("created")} app ${a.id}`,
          appLine(a),
          ...(a.procodeConfig ? [dim(`the repository is being bound: procode app repo ${a.id}`)] : []),
        ].join("\n"),
      );
    },
  );

appCmd
  .command("list")
  .description("list apps (GET /apps)")
  .option("--dev-mode <mode>", "low-code | pro-code")
  .option("--name <text>", "name contains")
  .option("--page <n>", "page", "1")
  .option("--page-size <n>", "page size", "20")
  .action(async (o: { devMode?: string; name?: string; page: string; pageSize: string }) => {
    const page = await api<Page<App>>(
      conn(),
      "GET",
      `/apps${query({ devMode: o.devMode, name: o.name, page: o.page, pageSize: o.pageSize })}`,
    );
    out(page, (p) =>
      [
        table(
          ["ID", "NAME", "MODE", "STACK", "REPOSITORY"],
          p.items.map((a) => [a.id, a.name, a.devMode, a.techStack, a.procodeConfig?.gitRepoUrl]),
        ),
        dim(`page ${p.page}, ${p.items.length} of ${p.total}`),
      ].join("\n"),
    );
  });

appCmd
  .command("get <id>")
  .description("show an app (GET /apps/{id})")
  .action(async (id: string) => {
    out(await api<App>(conn(), "GET", `/apps/${int(id)}`), appLine);
  });

appCmd
  .command("repo <id>")
  .description("show the repository binding: webhook, scaffold push, last error (GET /apps/{id}/repo)")
  .action(async (id: string) => {
    const r = await api<RepoBinding>(conn(), "GET", `/apps/${int(id)}/repo`);
    out(r, (b) =>
      [
        `${bold(b.externalGitUrl)} (${b.gitType})  ${b.state === "BOUND" ? green(b.state) : b.state}`,
        `  webhook   ${b.webhookUrl ?? "-"}`,
        `  scaffold  ${b.scaffold.state}${b.scaffold.message ? `: ${b.scaffold.message}` : ""}`,
        ...(b.lastError ? [`  ${red("last error")} ${b.lastError}`] : []),
      ].join("\n"),
    );
  });

appCmd
  .command("configure <id>")
  .description("set the pro-code configuration (PUT /apps/{id}/procode-config)")
  .requiredOption("--repo <url>", "git repository URL")
  .requiredOption("--credential <id>", "credential id")
  .option("--scaffold <template>", "scaffold template")
  .option("--git-type <type>", "GITLAB | GITHUB | GITEE | LOCAL")
  .option("--phases <list>", "iteration phases, e.g. DEVELOPING,TESTING,STAGING,RELEASE or RELEASE")
  .option("--stage <stage.key=value...>", "stage override, e.g. PACKAGE.driveMode=MANUAL (repeatable)")
  .addOption(new Option("--concurrency <policy>", "a second release of the app").choices(["QUEUE", "REJECT"]))
  .action(
    async (
      id: string,
      o: {
        repo: string;
        credential: string;
        scaffold?: string;
        gitType?: string;
        phases?: string;
        stage?: string[];
        concurrency?: string;
      },
    ) => {
      const stageConfigs: Record<string, Record<string, string | number>> = {};
      for (const s of o.stage ?? []) {
        const m = /^([A-Z_]+)\.(\w+)=(.+)$/.exec(s);
        if (!m)
          throw new CliError(`--stage ${s}: expected STAGE.key=value, e.g. PACKAGE.driveMode=MANUAL`, 2);
        const [, stage, key, value] = m as unknown as [string, string, string, string];
        (stageConfigs[stage] ??= {})[key] = /^\d+$/.test(value) ? Number(value) : value;
      }
      const cfg = await api<NonNullable<App["procodeConfig"]>>(
        conn(),
        "PUT",
        `/apps/${int(id)}/procode-config`,
        {
          gitRepoUrl: o.repo,
          credentialId: o.credential,
          ...(o.scaffold ? { scaffoldTemplate: o.scaffold } : {}),
          ...(o.gitType ? { gitType: o.gitType } : {}),
          ...(o.phases ? { phases: o.phases.split(",").map((p) => p.trim().toUpperCase()) } : {}),
          ...(Object.keys(stageConfigs).length ? { stageConfigs } : {}),
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
        },
      );
      out(
        cfg,
        (c) =>
          `${green("configured")} app ${c.appId}\n  repository ${c.gitRepoUrl}\n  webhook    ${c.webhookUrl}`,
      );
    },
  );

// ---- credentials ---------------------------------------------------------------------------------

const credCmd = program.command("credential").description("git credentials (tokens are never shown again)");
credCmd
  .command("create")
  .requiredOption("--git-type <type>", "GITLAB | GITHUB | GITEE | LOCAL")
  .requiredOption("--name <name>", "a name for it")
  .option("--username <name>", "user name, where the provider needs one")
  .option("--token-env <var>", "read the token from this environment variable", "PROCODE_GIT_TOKEN")
  .action(async (o: { gitType: string; name: string; username?: string; tokenEnv: string }) => {
    const token = process.env[o.tokenEnv];
    if (!token)
      throw new CliError(`set the token in $${o.tokenEnv} (it is not taken on the command line)`, 2);
    const c = await api<Credential>(conn(), "POST", "/credentials", {
      gitType: o.gitType,
      name: o.name,
      token,
      ...(o.username ? { username: o.username } : {}),
    });
    out(c, (d) => `${green("created")} credential ${d.id} (${d.gitType} ${d.name})`);
  });
credCmd.command("list").action(async () => {
  const list = await api<Credential[] | Page<Credential>>(conn(), "GET", "/credentials");
  const items = Array.isArray(list) ? list : list.items;
  out(list, () =>
    table(
      ["ID", "TYPE", "NAME", "USER", "CREATED"],
      items.map((c) => [c.id, c.gitType, c.name, c.username, c.createdAt]),
    ),
  );
});
credCmd.command("delete <id>").action(async (id: string) => {
  const d = await api<unknown>(conn(), "DELETE", `/credentials/${encodeURIComponent(id)}`);
  out(d, () => `${green("deleted")} credential ${id}`);
});

// ---- iterations ----------------------------------------------------------------------------------

const iterCmd = program.command("iteration").description("iterations and releases");

const iterationLine = (i: Iteration) =>
  [
    `${bold(i.name)} ${dim(`#${i.id}`)}  app ${i.appId}  branch ${i.sourceBranch}  ${i.status}${i.currentPhase ? ` / ${i.currentPhase}` : ""}`,
    `  head ${i.headCommit ?? "-"}  iteration pipeline ${i.iterationPipelineId ?? "-"}  phase pipeline ${i.phasePipelineId ?? "-"}`,
    ...i.phases.map(
      (p) =>
        `  ${p.phaseType} ${p.tag ?? ""} ${p.status}${p.rollback ? " (rollback)" : ""} pipeline ${p.pipelineId ?? "-"}`,
    ),
  ].join("\n");

iterCmd
  .command("create")
  .description("create an iteration (POST /iterations)")
  .requiredOption("--app <id>", "app id")
  .requiredOption("--name <name>", "1-100 characters")
  .option("--branch <name>", "source branch", "main")
  .action(async (o: { app: string; name: string; branch: string }) => {
    const it = await api<Iteration>(conn(), "POST", "/iterations", {
      appId: int(o.app),
      name: o.name,
      sourceBranch: o.branch,
    });
    out(it, (i) => `${green("created")} iteration ${i.id} (${i.status})\n${iterationLine(i)}`);
  });

iterCmd
  .command("list")
  .description("list an app's iterations (GET /apps/{id}/iterations)")
  .requiredOption("--app <id>", "app id")
  .option("--status <status>", "DRAFT | DEVELOPING | TESTING | STAGING | RELEASING | RELEASED | FAILED")
  .option("--page <n>", "page", "1")
  .option("--page-size <n>", "page size", "20")
  .action(async (o: { app: string; status?: string; page: string; pageSize: string }) => {
    const page = await api<Page<Iteration>>(
      conn(),
      "GET",
      `/apps/${int(o.app)}/iterations${query({ status: o.status, page: o.page, pageSize: o.pageSize })}`,
    );
    out(page, (p) =>
      [
        table(
          ["ID", "NAME", "BRANCH", "STATUS", "PHASE", "PHASE PIPELINE"],
          p.items.map((i) => [i.id, i.name, i.sourceBranch, i.status, i.currentPhase, i.phasePipelineId]),
        ),
        dim(`page ${p.page}, ${p.items.length} of ${p.total}`),
      ].join("\n"),
    );
  });

iterCmd
  .command("get <id>")
  .description("show an iteration (GET /iterations/{id})")
  .action(async (id: string) =>
    out(await api<Iteration>(conn(), "GET", `/iterations/${int(id)}`), iterationLine),
  );

iterCmd
  .command("proceed <id>")
  .description("move an iteration to its next phase (POST /iterations/{id}/proceed)")
  .requiredOption("--to <phase>", "TESTING | STAGING | RELEASE")
  .option("--tag <tag>", "release tag (for RELEASE), e.g. v1.0.0")
  .action(async (id: string, o: { to: string; tag?: string }) => {
    const r = await api<{ iterationId: number; currentPhase: string; phasePipelineId: number | null }>(
      conn(),
      "POST",
      `/iterations/${int(id)}/proceed`,
      { targetPhase: o.to.toUpperCase(), ...(o.tag ? { tag: o.tag } : {}) },
    );
    out(r, (d) =>
      [
        `${green("iteration")} ${d.iterationId} is now in ${bold(d.currentPhase)}`,
        ...(d.phasePipelineId
          ? [`phase pipeline ${d.phasePipelineId}: procode pipeline watch ${d.phasePipelineId}`]
          : []),
      ].join("\n"),
    );
  });

iterCmd
  .command("release <id>")
  .description("tag the source branch and start the release pipeline (POST /iterations/{id}/release)")
  .requiredOption("--tag <tag>", "v + a semantic version, e.g. v1.0.0")
  .option("--watch", "follow the release pipeline until it ends")
  .action(async (id: string, o: { tag: string; watch?: boolean }) => {
    const r = await api<ReleaseResponse>(conn(), "POST", `/iterations/${int(id)}/release`, { tag: o.tag });
    if (!o.watch || !r.pipelineId) {
      out(r, (d) =>
        d.pipelineId
          ? `${green("releasing")} ${d.tag}${d.rollback ? " (rollback)" : ""}: pipeline ${d.pipelineId} ${d.status}\n${dim(`procode pipeline watch ${d.pipelineId}`)}`
          : `${green("release recorded")} ${d.tag}: the pipeline starts as soon as the engine answers`,
      );
      return;
    }
    process.exitCode = await watchPipeline(conn(), r.pipelineId, { json: Boolean(globals().json) });
  });

// ---- pipelines -----------------------------------------------------------------------------------

const pipeCmd = program.command("pipeline").description("pipelines");

const pipelineLine = (p: Pipeline) =>
  [
    `${bold(`pipeline ${p.id}`)} ${p.type} ${p.status} (${p.state})  stage ${p.currentStage ?? "-"}${p.deployStatus ? `  deploy ${p.deployStatus}` : ""}`,
    `  app ${p.appId}  iteration ${p.iterationId}  parent ${p.parentId ?? "-"}  ref ${p.refId}${p.tag ? `  tag ${p.tag}` : ""}`,
    ...p.checkpoints.map(
      (c) =>
        `  ${c.stage.padEnd(11)} #${c.attempt} ${c.status === "SUCCESS" ? green(c.status) : c.status === "FAILED" ? red(c.status) : c.status}${c.error ? `  ${c.error}` : ""}`,
    ),
    ...(p.awaiting ? [`  waiting: ${p.awaiting.hint}`] : []),
  ].join("\n");

pipeCmd
  .command("get <id>")
  .description("show a pipeline (GET /pipelines/{id})")
  .action(async (id: string) =>
    out(await api<Pipeline>(conn(), "GET", `/pipelines/${int(id)}`), pipelineLine),
  );

pipeCmd
  .command("list")
  .description("list pipelines (GET /pipelines)")
  .option("--ref <id>", "refId (iteration id, or iteration phase id)")
  .option("--parent <id>", "parent (iteration pipeline) id")
  .option("--app <id>", "app id")
  .option("--type <type>", "ITERATION | PHASE")
  .option("--status <status>", "PENDING | RUNNING | SUCCESS | FAILED | CANCELLED")
  .option("--page <n>", "page", "1")
  .option("--page-size <n>", "page size", "20")
  .action(
    async (o: {
      ref?: string;
      parent?: string;
      app?: string;
      type?: string;
      status?: string;
      page: string;
      pageSize: string;
    }) => {
      const page = await api<Page<Pipeline>>(
        conn(),
        "GET",
        `/pipelines${query({ refId: o.ref, parentId: o.parent, appId: o.app, type: o.type, status: o.status, page: o.page, pageSize: o.pageSize })}`,
      );
      out(page, (p) =>
        [
          table(
            ["ID", "TYPE", "STATUS", "STATE", "STAGE", "TAG", "UPDATED"],
            p.items.map((x) => [x.id, x.type, x.status, x.state, x.currentStage, x.tag, x.updatedAt]),
          ),
          dim(`page ${p.page}, ${p.items.length} of ${p.total}`),
        ].join("\n"),
      );
    },
  );

pipeCmd
  .command("watch <id>")
  .description("follow a pipeline stage by stage until it ends (exit 0 on SUCCESS)")
  .option("--interval <ms>", "how often to look", "1000")
  .action(async (id: string, o: { interval: string }) => {
    process.exitCode = await watchPipeline(conn(), int(id), {
      json: Boolean(globals().json),
      intervalMs: int(o.interval),
    });
  });

for (const action of ["proceed", "retry", "resume", "cancel"] as const) {
  pipeCmd
    .command(`${action} <id>`)
    .description(
      {
        proceed: "move a pipeline waiting at a MANUAL stage on (POST /pipelines/{id}/proceed)",
        retry: "run the failed stage once more (POST /pipelines/{id}/retry)",
        resume: "continue from the breakpoint (POST /pipelines/{id}/resume)",
        cancel: "end the pipeline (POST /pipelines/{id}/cancel)",
      }[action],
    )
    .option("--reason <text>", "recorded with the action")
    .action(async (id: string, o: { reason?: string }) => {
      const r = await api<Record<string, unknown>>(
        conn(),
        "POST",
        `/pipelines/${int(id)}/${action}`,
        o.reason ? { reason: o.reason } : {},
      );
      out(
        r,
        (d) =>
          `${green(action)} ${Object.entries(d)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(" ")}`,
      );
    });
}

// ---- run -----------------------------------------------------------------------------------------

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`${red("error")} ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const code = (err as { code?: string; exitCode?: number }).code;
  if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help")
    process.exit(0);
  if (typeof code === "string" && code.startsWith("commander.")) process.exit(2);
  process.stderr.write(`${red("error")} ${(err as Error).message}\n`);
  process.exit(1);
}

#!/usr/bin/env node
/**
 * `procode`: the command-line client for everything the REST API does, in the style of gh / glab /
 * argo. Typed by the API document (libs/contracts/src/api-types.ts is generated from libs/contracts/openapi.json); what
 * the user types is parsed with the contracts' zod schemas. docs/cli.md is its reference.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import type { z } from "zod";
import {
  ConcurrencyPolicy,
  DevMode,
  GitType,
  IterationPhases,
  IterationStatus,
  PhaseStage,
  PhaseStageConfigPatch,
  PipelineStatus,
  PipelineType,
  ReleaseTag,
  ScaffoldTemplateName,
  TargetPhase,
  TechStack,
} from "@procode/contracts";
import pkg from "../package.json" with { type: "json" };
import type { components } from "@procode/contracts/api-types";
import {
  allPages,
  allPagesByCursor,
  apiClient,
  CliError,
  configFile,
  EXIT,
  resolveConnection,
  unwrap,
  type ApiClient,
} from "./client.js";
import { printLogs } from "./logs.js";
import { addNotificationCommands } from "./notifications.js";
import { addQualityCommand } from "./quality.js";
import { bold, dim, green, printable, red, table } from "./render.js";
import { watchPipeline } from "./watch.js";

type App = components["schemas"]["App"];
type Iteration = components["schemas"]["Iteration"];
type Pipeline = components["schemas"]["Pipeline"];

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

const jsonMode = process.argv.includes("--json");

const program = new Command()
  .name("procode")
  .description("Pro-code: apps, iterations, releases and pipelines, through the API gateway")
  .version(pkg.version, "-v, --version", "print the version")
  .option("--url <url>", "gateway URL (env PROCODE_URL, then the config file; default http://127.0.0.1:8080)")
  .option("--token <jwt>", "bearer token (env PROCODE_TOKEN, then the config file)")
  .option("--json", "print data as JSON on stdout, errors as JSON on stderr")
  // Program options go before the command, so a command's own --token (login) is its own.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({
    outputError: (message, write) =>
      write(
        jsonMode
          ? `${JSON.stringify({ code: null, message: message.replace(/^error: /, "").trim() })}\n`
          : message,
      ),
  });

const examples = (cmd: Command, lines: string[]) =>
  cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);

const globals = () => program.opts<GlobalOptions>();
const api = (): ApiClient => apiClient(resolveConnection(globals()));

/** What the user typed, parsed with a contract schema: exit 2 naming the flag when it does not fit. */
function parse<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new CliError(`${flag}: ${r.error.issues.map((i) => i.message).join("; ")}`, EXIT.USAGE);
  return r.data;
}
const positiveInt = (v: string, flag: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliError(`${flag}: "${v}" is not a positive integer`, EXIT.USAGE);
  return n;
};
/** `30s`, `10m`, `1h` or milliseconds. */
function duration(v: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new CliError(`${flag}: "${v}" is not a duration like 90s, 10m or 1h`, EXIT.USAGE);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"] ?? 1;
  return Number(m[1]) * unit;
}

/** Prints data as JSON with --json, else the human form of it with its text made printable. */
function out<T>(data: T, human: (d: T) => string): void {
  process.stdout.write(`${globals().json ? JSON.stringify(data, null, 2) : human(printable(data))}\n`);
}

/** One page (--page/--page-size) or, by default, every page. */
interface PageFlags {
  page?: string;
  pageSize?: string;
}
async function listed<T>(
  flags: PageFlags,
  fetchPage: (page: number, pageSize: number) => Promise<{ items: T[]; total: number }>,
  /** How to fetch every page, when not by page number (a list paged by cursor). */
  everyPage: () => Promise<{ items: T[]; total: number }> = () => allPages(fetchPage),
) {
  if (flags.page === undefined && flags.pageSize === undefined) return everyPage();
  const page = flags.page ? positiveInt(flags.page, "--page") : 1;
  const size = flags.pageSize ? positiveInt(flags.pageSize, "--page-size") : 20;
  return fetchPage(page, size);
}
const pageOptions = (cmd: Command) =>
  cmd
    .option("--page <n>", "only this page (default: every page)")
    .option("--page-size <n>", "items per page with --page, 1-100 (default 20)");
const footer = (shown: number, total: number) => dim(`${shown} of ${total}`);

// ---- login ---------------------------------------------------------------------------------------

examples(
  program
    .command("login")
    .description("save the gateway URL and a token to the config file, for the commands that follow")
    .requiredOption("--token <jwt>", "bearer token (npm start prints one)")
    .option("--url <url>", "gateway URL", "http://127.0.0.1:8080")
    .action((opts: { token: string; url: string }) => {
      const file = configFile();
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify({ url: opts.url, token: opts.token }, null, 2)}\n`, {
        mode: 0o600,
      });
      chmodSync(file, 0o600);
      out(
        { url: opts.url, configFile: file },
        (d) => `${green("saved")} ${d.url} and the token to ${d.configFile}`,
      );
    }),
  ["procode login --token $TOKEN", "procode login --url https://procode.example.com --token $TOKEN"],
);

// ---- apps ----------------------------------------------------------------------------------------

const appCmd = program.command("app").description("agent apps and their repository");

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

examples(
  appCmd
    .command("create")
    .description("create an app (POST /apps); a pro-code app's repository is bound in the background")
    .requiredOption("--name <name>", "1-100 characters, unique in the team")
    .addOption(
      new Option("--dev-mode <mode>", "development mode").choices(DevMode.options).default("pro-code"),
    )
    .addOption(
      new Option("--tech-stack <stack>", "tech stack (pro-code)")
        .choices(TechStack.options)
        .default("python"),
    )
    .option(
      "--repo <url>",
      "git repository (pro-code): https://gitlab.example.com/team/agent.git or local://<name>",
    )
    .option("--scaffold <template>", "scaffold pushed to an empty repository: python-agent")
    .addOption(
      new Option("--git-type <type>", "detected from the URL when left out").choices(GitType.options),
    )
    .option("--credential <id>", "credential for the repository (procode credential create)")
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
        const devMode = parse(DevMode, o.devMode, "--dev-mode");
        const proCode = devMode === "pro-code";
        const app = await unwrap(
          api().POST("/apps", {
            body: {
              name: o.name,
              devMode,
              ...(proCode ? { techStack: parse(TechStack, o.techStack, "--tech-stack") } : {}),
              ...(proCode && o.repo ? { gitRepoUrl: o.repo } : {}),
              ...(o.scaffold
                ? { scaffoldTemplate: parse(ScaffoldTemplateName, o.scaffold, "--scaffold") }
                : {}),
              ...(o.gitType ? { gitType: parse(GitType, o.gitType, "--git-type") } : {}),
              ...(o.credential ? { credentialId: o.credential } : {}),
            },
          }),
        );
        out(app, (a) =>
          [
            `${green("created")} app ${a.id}`,
            appLine(a),
            ...(a.procodeConfig ? [dim(`the repository is being bound: procode app repo ${a.id}`)] : []),
          ].join("\n"),
        );
      },
    ),
  [
    "procode app create --name my-agent --repo local://sample-agent --scaffold python-agent",
    "procode app create --name my-agent --repo https://gitlab.example.com/team/agent.git --credential <id>",
  ],
);

examples(
  pageOptions(
    appCmd
      .command("list")
      .description("list the team's apps (GET /apps), every page unless --page is given")
      .addOption(new Option("--dev-mode <mode>", "only apps of this mode").choices(DevMode.options))
      .option("--name <text>", "only apps whose name contains this"),
  ).action(async (o: PageFlags & { devMode?: string; name?: string }) => {
    const client = api();
    const devMode = o.devMode ? parse(DevMode, o.devMode, "--dev-mode") : undefined;
    const list = await listed(o, (page, pageSize) =>
      unwrap(
        client.GET("/apps", {
          params: {
            query: { page, pageSize, ...(devMode ? { devMode } : {}), ...(o.name ? { name: o.name } : {}) },
          },
        }),
      ),
    );
    out(list, (l) =>
      [
        table(
          ["ID", "NAME", "MODE", "STACK", "REPOSITORY"],
          l.items.map((a) => [a.id, a.name, a.devMode, a.techStack, a.procodeConfig?.gitRepoUrl]),
        ),
        footer(l.items.length, l.total),
      ].join("\n"),
    );
  }),
  ["procode app list", "procode app list --name agent --json", "procode app list --page 2 --page-size 50"],
);

examples(
  appCmd
    .command("get <id>")
    .description("show an app and its configuration (GET /apps/{id})")
    .action(async (id: string) => {
      const client = api();
      out(
        await unwrap(client.GET("/apps/{id}", { params: { path: { id: positiveInt(id, "<id>") } } })),
        appLine,
      );
    }),
  ["procode app get 1", "procode app get 1 --json"],
);

examples(
  appCmd
    .command("repo <id>")
    .description("show the repository binding: webhook, scaffold push, last error (GET /apps/{id}/repo)")
    .action(async (id: string) => {
      const client = api();
      const r = await unwrap(
        client.GET("/apps/{id}/repo", { params: { path: { id: positiveInt(id, "<id>") } } }),
      );
      out(r, (b) =>
        [
          `${bold(b.externalGitUrl)} (${b.gitType})  ${b.state === "BOUND" ? green(b.state) : b.state}`,
          `  webhook   ${b.webhookUrl ?? "-"}`,
          `  scaffold  ${b.scaffold.state}${b.scaffold.message ? `: ${b.scaffold.message}` : ""}`,
          ...(b.lastError ? [`  ${red("last error")} ${b.lastError}`] : []),
        ].join("\n"),
      );
    }),
  ["procode app repo 1"],
);

examples(
  appCmd
    .command("configure <id>")
    .description(
      "change the pro-code configuration (PUT /apps/{id}/procode-config); what is not given is kept",
    )
    .option("--repo <url>", "git repository URL")
    .option("--credential <id>", "credential id (GitLab, GitHub, Gitee repositories need one)")
    .option("--scaffold <template>", "scaffold template")
    .addOption(new Option("--git-type <type>", "git provider").choices(GitType.options))
    .option("--phases <list>", "iteration phases, e.g. DEVELOPING,TESTING,STAGING,RELEASE or RELEASE")
    .option(
      "--stage <STAGE.key=value...>",
      "change one stage setting, e.g. PACKAGE.driveMode=MANUAL; value null returns it to the default (repeatable)",
    )
    .addOption(
      new Option("--concurrency <policy>", "a second release of the app").choices(ConcurrencyPolicy.options),
    )
    .action(
      async (
        id: string,
        o: {
          repo?: string;
          credential?: string;
          scaffold?: string;
          gitType?: string;
          phases?: string;
          stage?: string[];
          concurrency?: string;
        },
      ) => {
        const stages: Record<string, Record<string, unknown>> = {};
        for (const s of o.stage ?? []) {
          const m = /^([A-Z_]+)\.(\w+)=(.+)$/.exec(s);
          if (!m?.[1] || !m[2] || m[3] === undefined)
            throw new CliError(
              `--stage ${s}: expected STAGE.key=value, e.g. PACKAGE.driveMode=MANUAL`,
              EXIT.USAGE,
            );
          (stages[m[1]] ??= {})[m[2]] = settingValue(m[3], s);
        }
        const client = api();
        const cfg = await unwrap(
          client.PUT("/apps/{id}/procode-config", {
            params: { path: { id: positiveInt(id, "<id>") } },
            body: {
              ...(o.repo ? { gitRepoUrl: o.repo } : {}),
              ...(o.credential ? { credentialId: o.credential } : {}),
              ...(o.scaffold
                ? { scaffoldTemplate: parse(ScaffoldTemplateName, o.scaffold, "--scaffold") }
                : {}),
              ...(o.gitType ? { gitType: parse(GitType, o.gitType, "--git-type") } : {}),
              ...(o.phases
                ? {
                    phases: parse(
                      IterationPhases,
                      o.phases.split(",").map((p) => p.trim().toUpperCase()),
                      "--phases",
                    ),
                  }
                : {}),
              ...(Object.keys(stages).length
                ? { stageConfigs: parse(PhaseStageConfigPatch, stages, "--stage") }
                : {}),
              ...(o.concurrency
                ? { concurrency: parse(ConcurrencyPolicy, o.concurrency, "--concurrency") }
                : {}),
            },
          }),
        );
        out(
          cfg,
          (c) =>
            `${green("configured")} app ${c.appId}\n  repository ${c.gitRepoUrl}\n  webhook    ${c.webhookUrl}\n  stages     ${Object.entries(
              c.effectiveStageConfigs,
            )
              .map(([s, x]) => `${s} ${x.driveMode}/${x.retryMode}x${x.maxRetries}`)
              .join(", ")}`,
        );
      },
    ),
  [
    "procode app configure 1 --stage PACKAGE.driveMode=MANUAL",
    "procode app configure 1 --stage PACKAGE.driveMode=null",
    "procode app configure 1 --repo https://gitlab.example.com/team/agent.git --credential <id>",
  ],
);

// ---- credentials ---------------------------------------------------------------------------------

const credCmd = program
  .command("credential")
  .description("git credentials of the team (tokens are never shown again)");
examples(
  credCmd
    .command("create")
    .description("store a git credential (POST /credentials); the token is read from the environment")
    .addOption(new Option("--git-type <type>", "git provider").choices(GitType.options).makeOptionMandatory())
    .requiredOption("--name <name>", "a name to recognise it by")
    .option("--username <name>", "user name, where the provider needs one")
    .option("--token-env <var>", "read the token from this environment variable", "PROCODE_GIT_TOKEN")
    .action(async (o: { gitType: string; name: string; username?: string; tokenEnv: string }) => {
      const token = process.env[o.tokenEnv];
      if (!token)
        throw new CliError(
          `set the token in $${o.tokenEnv} (it is not taken on the command line)`,
          EXIT.USAGE,
        );
      const client = api();
      const c = await unwrap(
        client.POST("/credentials", {
          body: {
            gitType: parse(GitType, o.gitType, "--git-type"),
            name: o.name,
            token,
            ...(o.username ? { username: o.username } : {}),
          },
        }),
      );
      out(c, (d) => `${green("created")} credential ${d.id} (${d.gitType} ${d.name})`);
    }),
  ["PROCODE_GIT_TOKEN=glpat-... procode credential create --git-type GITLAB --name ci"],
);
examples(
  pageOptions(
    credCmd
      .command("list")
      .description("list the team's credentials (GET /credentials), every page unless --page"),
  ).action(async (o: PageFlags) => {
    const client = api();
    const list = await listed(o, (page, pageSize) =>
      unwrap(client.GET("/credentials", { params: { query: { page, pageSize } } })),
    );
    out(list, (l) =>
      [
        table(
          ["ID", "TYPE", "NAME", "USER", "CREATED"],
          l.items.map((c) => [c.id, c.gitType, c.name, c.username, c.createdAt]),
        ),
        footer(l.items.length, l.total),
      ].join("\n"),
    );
  }),
  ["procode credential list", "procode credential list --json"],
);
examples(
  credCmd
    .command("delete <id>")
    .description("delete a credential no repository uses (DELETE /credentials/{id})")
    .action(async (id: string) => {
      const client = api();
      const d = await unwrap(client.DELETE("/credentials/{id}", { params: { path: { id } } }));
      out(d, (x) => `${green("deleted")} credential ${x.id}`);
    }),
  ["procode credential delete 3f0c..."],
);

// ---- iterations ----------------------------------------------------------------------------------

const iterCmd = program.command("iteration").description("iterations, their phases and releases");

const iterationLine = (i: Iteration) =>
  [
    `${bold(i.name)} ${dim(`#${i.id}`)}  app ${i.appId}  branch ${i.sourceBranch}  ${i.status}${i.currentPhase ? ` / ${i.currentPhase}` : ""}`,
    `  head ${i.headCommit ?? "-"}  iteration pipeline ${i.iterationPipelineId ?? "-"}  phase pipeline ${i.phasePipelineId ?? "-"}`,
    ...i.phases.map(
      (p) =>
        `  ${p.phaseType} ${p.tag ?? ""} ${p.status}${p.rollback ? " (rollback)" : ""} pipeline ${p.pipelineId ?? "-"}`,
    ),
  ].join("\n");

examples(
  iterCmd
    .command("create")
    .description("create an iteration from a branch (POST /iterations); it starts in DRAFT")
    .requiredOption("--app <id>", "app id")
    .requiredOption("--name <name>", "1-100 characters")
    .option("--branch <name>", "source branch", "main")
    .action(async (o: { app: string; name: string; branch: string }) => {
      const client = api();
      const it = await unwrap(
        client.POST("/iterations", {
          body: { appId: positiveInt(o.app, "--app"), name: o.name, sourceBranch: o.branch },
        }),
      );
      out(it, (i) => `${green("created")} iteration ${i.id} (${i.status})\n${iterationLine(i)}`);
    }),
  ["procode iteration create --app 1 --name first --branch main"],
);

examples(
  pageOptions(
    iterCmd
      .command("list")
      .description(
        "list an app's iterations, newest first (GET /apps/{id}/iterations), every page unless --page",
      )
      .requiredOption("--app <id>", "app id")
      .addOption(
        new Option("--status <status>", "only iterations in this status").choices(IterationStatus.options),
      ),
  ).action(async (o: PageFlags & { app: string; status?: string }) => {
    const client = api();
    const appId = positiveInt(o.app, "--app");
    const status = o.status ? parse(IterationStatus, o.status, "--status") : undefined;
    const iterations = (query: { page?: number; pageSize: number; cursor?: string }) =>
      unwrap(
        client.GET("/apps/{id}/iterations", {
          params: { path: { id: appId }, query: { ...query, ...(status ? { status } : {}) } },
        }),
      );
    // Every page by cursor, so iterations created meanwhile do not shift the pages.
    const list = await listed(
      o,
      (page, pageSize) => iterations({ page, pageSize }),
      () => allPagesByCursor((cursor, pageSize) => iterations({ pageSize, ...(cursor ? { cursor } : {}) })),
    );
    out(list, (l) =>
      [
        table(
          ["ID", "NAME", "BRANCH", "STATUS", "PHASE", "PHASE PIPELINE"],
          l.items.map((i) => [i.id, i.name, i.sourceBranch, i.status, i.currentPhase, i.phasePipelineId]),
        ),
        footer(l.items.length, l.total),
      ].join("\n"),
    );
  }),
  ["procode iteration list --app 1", "procode iteration list --app 1 --status RELEASED --json"],
);

examples(
  iterCmd
    .command("get <id>")
    .description("show an iteration, its phase and releases (GET /iterations/{id})")
    .action(async (id: string) => {
      const client = api();
      out(
        await unwrap(client.GET("/iterations/{id}", { params: { path: { id: positiveInt(id, "<id>") } } })),
        iterationLine,
      );
    }),
  ["procode iteration get 1"],
);

examples(
  iterCmd
    .command("proceed <id>")
    .description("move an iteration to its next phase (POST /iterations/{id}/proceed)")
    .requiredOption("--to <phase>", "TESTING | STAGING | RELEASE")
    .option("--tag <tag>", "release tag, for RELEASE: v + a semantic version")
    .action(async (id: string, o: { to: string; tag?: string }) => {
      const client = api();
      const r = await unwrap(
        client.POST("/iterations/{id}/proceed", {
          params: { path: { id: positiveInt(id, "<id>") } },
          body: {
            targetPhase: parse(TargetPhase, o.to.toUpperCase(), "--to"),
            ...(o.tag ? { tag: parse(ReleaseTag, o.tag, "--tag") } : {}),
          },
        }),
      );
      out(r, (d) =>
        [
          `${green("iteration")} ${d.iterationId} is now in ${bold(d.currentPhase)}`,
          ...(d.phasePipelineId ? [dim(`procode pipeline watch ${d.phasePipelineId}`)] : []),
        ].join("\n"),
      );
    }),
  ["procode iteration proceed 1 --to TESTING", "procode iteration proceed 1 --to RELEASE --tag v1.0.0"],
);

examples(
  iterCmd
    .command("release <id>")
    .description("tag the source branch and start the release pipeline (POST /iterations/{id}/release)")
    .requiredOption("--tag <tag>", "v + a semantic version, e.g. v1.0.0 (an older released tag rolls back)")
    .option("--watch", "follow the release pipeline (exit codes as pipeline watch)")
    .option("--timeout <duration>", "with --watch: give up after this long, e.g. 10m")
    .action(async (id: string, o: { tag: string; watch?: boolean; timeout?: string }) => {
      const client = api();
      const r = await unwrap(
        client.POST("/iterations/{id}/release", {
          params: { path: { id: positiveInt(id, "<id>") } },
          body: { tag: parse(ReleaseTag, o.tag, "--tag") },
        }),
      );
      if (!o.watch || r.pipelineId === null) {
        out(r, (d) =>
          d.pipelineId
            ? `${green("releasing")} ${d.tag}${d.rollback ? " (rollback)" : ""}: pipeline ${d.pipelineId} ${d.status}\n${dim(`procode pipeline watch ${d.pipelineId}`)}`
            : `${green("release recorded")} ${d.tag}: the pipeline starts as soon as the engine answers`,
        );
        return;
      }
      process.exitCode = await watchPipeline(client, r.pipelineId, {
        json: Boolean(globals().json),
        stream: resolveConnection(globals()),
        ...(o.timeout ? { timeoutMs: duration(o.timeout, "--timeout") } : {}),
      });
    }),
  [
    "procode iteration release 1 --tag v1.0.0 --watch",
    "procode iteration release 2 --tag v1.0.0   # rollback",
  ],
);

// ---- pipelines -----------------------------------------------------------------------------------

const pipeCmd = program.command("pipeline").description("pipelines: follow them and act on them");

const pipelineLine = (p: Pipeline) =>
  [
    `${bold(`pipeline ${p.id}`)} ${p.type} ${p.status} (${p.state})  stage ${p.currentStage ?? "-"}${p.deployStatus ? `  deploy ${p.deployStatus}` : ""}`,
    `  app ${p.appId}  iteration ${p.iterationId}  parent ${p.parentId ?? "-"}  ref ${p.refId}${p.tag ? `  tag ${p.tag}` : ""}`,
    ...p.checkpoints.map(
      (c) =>
        `  ${c.stage.padEnd(11)} #${c.attempt} ${c.status === "SUCCESS" ? green(c.status) : c.status === "FAILED" ? red(c.status) : c.status}${c.error ? `  ${c.error}` : ""}`,
    ),
  ].join("\n");

examples(
  pipeCmd
    .command("get <id>")
    .description("show a pipeline and its stage attempts (GET /pipelines/{id})")
    .action(async (id: string) => {
      const client = api();
      out(
        await unwrap(client.GET("/pipelines/{id}", { params: { path: { id: positiveInt(id, "<id>") } } })),
        pipelineLine,
      );
    }),
  ["procode pipeline get 7 --json"],
);

examples(
  pageOptions(
    pipeCmd
      .command("list")
      .description("list pipelines, newest first (GET /pipelines), every page unless --page")
      .option("--ref <id>", "refId: an iteration id (ITERATION) or iteration phase id (PHASE)")
      .option("--parent <id>", "parent (iteration pipeline) id")
      .option("--app <id>", "app id")
      .addOption(new Option("--type <type>", "pipeline type").choices(PipelineType.options))
      .addOption(new Option("--status <status>", "pipeline status").choices(PipelineStatus.options)),
  ).action(
    async (
      o: PageFlags & { ref?: string; parent?: string; app?: string; type?: string; status?: string },
    ) => {
      const client = api();
      const query = {
        ...(o.ref ? { refId: positiveInt(o.ref, "--ref") } : {}),
        ...(o.parent ? { parentId: positiveInt(o.parent, "--parent") } : {}),
        ...(o.app ? { appId: positiveInt(o.app, "--app") } : {}),
        ...(o.type ? { type: parse(PipelineType, o.type, "--type") } : {}),
        ...(o.status ? { status: parse(PipelineStatus, o.status, "--status") } : {}),
      };
      const list = await listed(o, (page, pageSize) =>
        unwrap(client.GET("/pipelines", { params: { query: { ...query, page, pageSize } } })),
      );
      out(list, (l) =>
        [
          table(
            ["ID", "TYPE", "STATUS", "STATE", "STAGE", "TAG", "UPDATED"],
            l.items.map((x) => [x.id, x.type, x.status, x.state, x.currentStage, x.tag, x.updatedAt]),
          ),
          footer(l.items.length, l.total),
        ].join("\n"),
      );
    },
  ),
  ["procode pipeline list --app 1 --status FAILED", "procode pipeline list --type PHASE --page 1"],
);

examples(
  pipeCmd
    .command("watch <id>")
    .description(
      "follow a pipeline stage by stage; exits 0 SUCCESS, 1 FAILED, 4 CANCELLED, 5 waiting for a person, 6 timed out",
    )
    .option("--interval <ms>", "how often to look while the event stream is unavailable", "1000")
    .option("--timeout <duration>", "give up after this long (exit 6), e.g. 90s, 10m, 1h")
    .option("--poll", "poll every --interval instead of following the event stream")
    .action(async (id: string, o: { interval: string; timeout?: string; poll?: boolean }) => {
      process.exitCode = await watchPipeline(api(), positiveInt(id, "<id>"), {
        json: Boolean(globals().json),
        ...(o.poll ? {} : { stream: resolveConnection(globals()) }),
        intervalMs: positiveInt(o.interval, "--interval"),
        ...(o.timeout ? { timeoutMs: duration(o.timeout, "--timeout") } : {}),
      });
    }),
  ["procode pipeline watch 7", 'procode pipeline watch 7 --timeout 30m || echo "exit $?"'],
);

examples(
  pipeCmd
    .command("logs <id>")
    .description(
      "print a phase pipeline's stage logs (GET /pipelines/{id}/logs); --follow goes on until the pipeline ends (exit codes as watch)",
    )
    .addOption(new Option("--stage <stage>", "only this stage's lines").choices(PhaseStage.options))
    .option("--attempt <n>", "only this attempt of --stage (default: every attempt)")
    .option("--follow", "print lines as they are written, until the pipeline ends")
    .option(
      "--interval <ms>",
      "with --follow: how often to look while the event stream is unavailable",
      "1000",
    )
    .option("--poll", "with --follow: poll every --interval instead of following the event stream")
    .action(
      async (
        id: string,
        o: { stage?: string; attempt?: string; follow?: boolean; interval: string; poll?: boolean },
      ) => {
        if (o.attempt !== undefined && !o.stage) throw new CliError("--attempt: needs --stage", EXIT.USAGE);
        process.exitCode = await printLogs(api(), positiveInt(id, "<id>"), {
          json: Boolean(globals().json),
          ...(o.stage ? { stage: parse(PhaseStage, o.stage, "--stage") } : {}),
          ...(o.attempt !== undefined ? { attempt: positiveInt(o.attempt, "--attempt") } : {}),
          ...(o.follow
            ? {
                follow: {
                  intervalMs: positiveInt(o.interval, "--interval"),
                  ...(o.poll ? {} : { stream: resolveConnection(globals()) }),
                },
              }
            : {}),
        });
      },
    ),
  [
    "procode pipeline logs 7",
    "procode pipeline logs 7 --stage CODE_CHECK --attempt 2",
    "procode pipeline logs 7 --follow",
    "procode --json pipeline logs 7 --stage DEPLOY",
  ],
);

const ACTIONS = {
  proceed: { path: "/pipelines/{id}/proceed", what: "move a pipeline waiting at a MANUAL stage on" },
  retry: { path: "/pipelines/{id}/retry", what: "run the failed stage once more, within its retry budget" },
  resume: {
    path: "/pipelines/{id}/resume",
    what: "continue from the breakpoint (the failed stage runs afresh)",
  },
  cancel: {
    path: "/pipelines/{id}/cancel",
    what: "end the pipeline (a running deployment is asked to stop)",
  },
} as const;

for (const [action, a] of Object.entries(ACTIONS) as [
  keyof typeof ACTIONS,
  (typeof ACTIONS)[keyof typeof ACTIONS],
][]) {
  examples(
    pipeCmd
      .command(`${action} <id>`)
      .description(`${a.what} (POST ${a.path})`)
      .option("--reason <text>", "recorded with the action")
      .action(async (id: string, o: { reason?: string }) => {
        const client = api();
        const init = {
          params: { path: { id: positiveInt(id, "<id>") } },
          ...(o.reason ? { body: { reason: o.reason } } : {}),
        };
        const r = await unwrap<Record<string, unknown>>(client.POST(a.path, init));
        out(
          r,
          (d) =>
            `${green(action)} ${Object.entries(d)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(" ")}`,
        );
      }),
    [
      `procode pipeline ${action} 7`,
      `procode pipeline ${action} 7 --reason "approved by the release manager"`,
    ],
  );
}

// ---- notifications -------------------------------------------------------------------------------

const kit = { api, out, parse, positiveInt, listed, pageOptions, footer, examples };
addNotificationCommands(program, kit);

// ---- quality gate --------------------------------------------------------------------------------

addQualityCommand(program, kit);

// ---- run -----------------------------------------------------------------------------------------

function fail(err: CliError): never {
  if (jsonMode) {
    process.stderr.write(
      `${JSON.stringify({ code: err.code ?? null, message: err.message, data: err.data })}\n`,
    );
  } else {
    process.stderr.write(
      `${red("error")} ${err.code !== undefined ? `${err.code} ` : ""}${printable(err.message)}\n`,
    );
  }
  process.exit(err.exitCode);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) fail(err);
  if (err instanceof CommanderError) {
    if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code))
      process.exit(EXIT.OK);
    process.exit(EXIT.USAGE);
  }
  fail(new CliError((err as Error).message));
}
/**
 * A stage setting's value as typed after `=`: null (back to the default), true or false, a whole
 * number, a JSON object or list (QUALITY_GATE.gate={"minPassRate":0.9}), else the text itself.
 */
function settingValue(text: string, option: string): unknown {
  if (text === "null") return null;
  if (text === "true" || text === "false") return text === "true";
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[[{]/.test(text)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CliError(`--stage ${option}: the value is not JSON: ${(e as Error).message}`, EXIT.USAGE);
  }
}

import type { Command } from "commander";
import type { components } from "@procode/contracts/api-types";
import { unwrap } from "./client.js";
import type { CommandKit } from "./notifications.js";
import { bold, dim, green, red, table, yellow } from "./render.js";

type Report = components["schemas"]["QualityReport"];
type Verdict = components["schemas"]["QualityVerdict"];
type Case = components["schemas"]["QualityCase"];

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const paint = (v: Verdict) => (v === "PASS" ? green(v) : v === "WAIVED" ? yellow(v) : red(v));
const shown = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? "null"));

function caseLines(c: Case): string[] {
  return [
    `  ${bold(c.id)}${c.tags.length ? dim(` [${c.tags.join(", ")}]`) : ""}`,
    `    input:  ${shown(c.input)}`,
    `    output: ${c.errored ? red(`no answer: ${c.error ?? ""}`) : shown(c.output)}`,
    ...c.failed.map((f) => `    ${red("✗")} ${f.type}: ${f.reason}`),
  ];
}

/** One report as `procode quality <app> --report <id>` prints it. */
export function renderQualityReport(r: Report): string {
  const lines = [
    `${bold(`report ${r.id}`)} ${paint(r.verdict)}  ${r.tag} ${dim(r.commitId?.slice(0, 12) ?? "")}  pipeline ${r.pipelineId} attempt ${r.attempt}`,
    `pass rate ${pct(r.passRate)} (${r.passed}/${r.total}), 95% interval ${pct(r.interval.low)}-${pct(r.interval.high)}`,
    r.unitTests
      ? `unit tests: ${r.unitTests.ran} ran, ${r.unitTests.failed} failed${r.unitTests.error ? ` (${r.unitTests.error})` : ""}`
      : "unit tests: not run",
    `/invoke latency P50 ${r.latency.p50Ms} ms, P95 ${r.latency.p95Ms} ms over ${r.latency.calls} call(s); executor ${r.executor}`,
    r.baseline
      ? `compared with ${r.baseline.tag} (report ${r.baseline.reportId}), the last released version`
      : "no released version to compare with",
  ];
  if (r.waiver) lines.push(yellow(`waived by ${r.waiver.by} at ${r.waiver.at}: ${r.waiver.reason}`));
  for (const x of r.reasons) lines.push(`${red("blocked:")} ${x}`);
  for (const p of r.problems) lines.push(`${red("configuration error:")} ${p}`);
  const tags = Object.entries(r.byTag);
  if (tags.length) lines.push(`by tag: ${tags.map(([t, s]) => `${t} ${s.passed}/${s.total}`).join(", ")}`);
  if (r.newlyFailing.length)
    lines.push(bold(`newly failing (${r.newlyFailing.length}):`), ...r.newlyFailing.flatMap(caseLines));
  const others = r.failing.filter((c) => !r.newlyFailing.some((n) => n.id === c.id));
  if (others.length) lines.push(bold(`also failing (${others.length}):`), ...others.flatMap(caseLines));
  if (r.newlyPassing.length) lines.push(`newly passing: ${r.newlyPassing.map((c) => c.id).join(", ")}`);
  if (r.missing.length)
    lines.push(
      `missing since ${r.baseline?.tag ?? "the baseline"}: ${r.missing.map((c) => c.id).join(", ")}`,
    );
  return lines.join("\n");
}

/** `procode quality <appId>` (docs/cli.md): the app's quality gate history, or one report. */
export function addQualityCommand(program: Command, k: CommandKit): void {
  k.examples(
    k
      .pageOptions(
        program
          .command("quality <appId>")
          .description(
            "an app's quality gate history, newest first (GET /apps/{id}/quality), or one report with its failing cases (--report)",
          )
          .option(
            "--report <id>",
            "one report: reasons, unit tests, newly failing cases with input, output and the failing assertion",
          ),
      )
      .action(async (appId: string, o: { report?: string; page?: string; pageSize?: string }) => {
        const client = k.api();
        const id = k.positiveInt(appId, "<appId>");
        if (o.report) {
          const reportId = k.positiveInt(o.report, "--report");
          const r = await unwrap(
            client.GET("/apps/{id}/quality/{reportId}", { params: { path: { id, reportId } } }),
          );
          k.out(r, renderQualityReport);
          return;
        }
        const list = await k.listed(o, (page, pageSize) =>
          unwrap(client.GET("/apps/{id}/quality", { params: { path: { id }, query: { page, pageSize } } })),
        );
        k.out(list, (l) =>
          [
            table(
              [
                "REPORT",
                "TAG",
                "VERDICT",
                "PASS RATE",
                "95% INTERVAL",
                "NEWLY FAILING",
                "UNIT TESTS",
                "WHEN",
              ],
              l.items.map((r) => [
                r.id,
                r.tag,
                paint(r.verdict),
                `${pct(r.passRate)} (${r.passed}/${r.total})`,
                `${pct(r.interval.low)}-${pct(r.interval.high)}`,
                r.newlyFailingCount,
                r.unitTests ? `${r.unitTests.ran - r.unitTests.failed}/${r.unitTests.ran}` : "-",
                r.createdAt,
              ]),
            ),
            k.footer(l.items.length, l.total),
          ].join("\n"),
        );
      }),
    ["procode quality 1", "procode quality 1 --report 12", "procode quality 1 --json"],
  );
}

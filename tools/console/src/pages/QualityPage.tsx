import { Link, useLocation, useSearch } from "wouter";
import { useApp, useQualityReport, useQualityReports } from "../api/queries";
import type { QualityCase, QualityReport, QualityReportItem } from "../api/types";
import { Empty, NotFound, queryGate, TableHead } from "../ui/feedback";
import { StatusBadge } from "../ui/state";
import { Ago, shortCommit } from "../ui/time";
import { AppHeader } from "./AppHeader";
import { QualityTrend } from "./QualityTrend";

/**
 * An app's quality gate history (docs/console.md "Quality"): the pass rate release after release,
 * each gate run with its verdict, and one run's report with the cases that newly fail. The report
 * shown is in the address (`?report=<id>`), so it survives a reload and can be linked to.
 */
export function QualityPage({ appId }: { appId: number }) {
  const app = useApp(appId);
  const reports = useQualityReports(appId);
  const asked = Number(new URLSearchParams(useSearch()).get("report"));
  if (!Number.isSafeInteger(appId) || appId < 1) return <NotFound what="App" />;
  const gate = queryGate(app, "app", { page: true }) ?? queryGate(reports, "quality history");
  if (gate || !app.data || !reports.data) return gate;
  const items = reports.data.items;
  const shown = Number.isSafeInteger(asked) && asked > 0 ? asked : items[0]?.id;
  return (
    <>
      <AppHeader app={app.data} />
      {items.length === 0 ? (
        <section className="card">
          <Empty title="No quality gate has run yet.">
            Add <code>evals/*.jsonl</code> to the repository (the python-agent scaffold ships a starter set)
            or turn the gate on in the app&apos;s stage settings: the next release runs its cases before
            DEPLOY.
          </Empty>
        </section>
      ) : (
        <div className="grid-2">
          <section className="card span-2" aria-labelledby="trend-title">
            <h2 id="trend-title">Pass rate</h2>
            <QualityTrend items={items} appId={appId} selected={shown} />
          </section>
          <QualityHistory appId={appId} items={items} selected={shown} />
          {shown ? <QualityReportView appId={appId} reportId={shown} /> : null}
        </div>
      )}
    </>
  );
}

const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

function PassRate({ r }: { r: Pick<QualityReportItem, "passRate" | "interval" | "passed" | "total"> }) {
  return (
    <span title={`95% interval ${percent(r.interval.low)} – ${percent(r.interval.high)}`}>
      <strong>{percent(r.passRate)}</strong>{" "}
      <span className="muted">
        {r.passed}/{r.total} · {percent(r.interval.low)}–{percent(r.interval.high)}
      </span>
    </span>
  );
}

function UnitTests({ r }: { r: Pick<QualityReportItem, "unitTests"> }) {
  const t = r.unitTests;
  if (!t) return <span className="muted">none</span>;
  if (t.error) return <span className="text-red">did not run</span>;
  return t.failed > 0 ? (
    <span className="text-red">
      {t.failed} of {t.ran} failed
    </span>
  ) : (
    <span>{t.ran} passed</span>
  );
}

/** The gate runs, newest first: one row each, the one shown marked. */
function QualityHistory({
  appId,
  items,
  selected,
}: {
  appId: number;
  items: QualityReportItem[];
  selected: number | undefined;
}) {
  const [, navigate] = useLocation();
  return (
    <section className="card span-2" aria-labelledby="runs-title">
      <h2 id="runs-title">Gate runs</h2>
      <table className="table table-cards" data-testid="quality-history">
        <TableHead
          columns={[
            "Verdict",
            "Release",
            "Pass rate",
            "Newly failing",
            "Unit tests",
            "Compared with",
            "When",
          ]}
        />
        <tbody>
          {items.map((r) => (
            <tr
              key={r.id}
              data-report={r.id}
              className={r.id === selected ? "row-current row-link" : "row-link"}
              aria-current={r.id === selected ? "true" : undefined}
              onClick={() => navigate(`/apps/${appId}/quality?report=${r.id}`)}
            >
              <td data-label="Verdict">
                <StatusBadge status={r.verdict} />
              </td>
              <td data-label="Release">
                <Link
                  href={`/apps/${appId}/quality?report=${r.id}`}
                  className="strong mono"
                  onClick={(e) => e.stopPropagation()}
                >
                  {r.tag}
                </Link>{" "}
                <span className="muted mono">{shortCommit(r.commitId)}</span>
              </td>
              <td data-label="Pass rate">
                <PassRate r={r} />
              </td>
              <td
                data-label="Newly failing"
                className={r.newlyFailingCount > 0 ? "text-red strong" : undefined}
              >
                {r.newlyFailingCount}
              </td>
              <td data-label="Unit tests">
                <UnitTests r={r} />
              </td>
              <td data-label="Compared with" className="mono">
                {r.baseline ? r.baseline.tag : <span className="muted">first run</span>}
              </td>
              <td data-label="When">
                <Ago at={r.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** A JSON value as the report keeps it: text as it is, anything else as JSON. */
const asText = (v: unknown) => (typeof v === "string" ? v : v === null ? "(no answer)" : JSON.stringify(v));

function CaseTable({ cases, testId, caption }: { cases: QualityCase[]; testId: string; caption: string }) {
  return (
    <table className="table table-cards table-cases" data-testid={testId}>
      <caption className="sr-only">{caption}</caption>
      <TableHead columns={["Case", "Input", "Output", "Why"]} />
      <tbody>
        {cases.map((c) => (
          <tr key={c.id} data-case={c.id}>
            <td data-label="Case">
              <span className="mono strong">{c.id}</span>
              {c.tags.map((t) => (
                <span key={t} className="tag">
                  {t}
                </span>
              ))}
              {c.runs > 1 ? (
                <div className="muted">
                  {c.runsPassed} of {c.runs} runs passed
                </div>
              ) : null}
            </td>
            <td data-label="Input">
              <pre className="case-text">{asText(c.input)}</pre>
            </td>
            <td data-label="Output">
              <pre className="case-text">{asText(c.output)}</pre>
            </td>
            <td data-label="Why">
              {c.error ? <div className="text-red">{c.error}</div> : null}
              {c.failed.length === 0 && !c.error ? <span className="muted">passes</span> : null}
              <ul className="plain">
                {c.failed.map((f, i) => (
                  <li key={i}>
                    <code className="code">{f.type}</code> {f.reason}
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One gate run: why it decided what it did, and the cases behind it. */
function QualityReportView({ appId, reportId }: { appId: number; reportId: number }) {
  const report = useQualityReport(appId, reportId);
  const gate = queryGate(report, `report #${reportId}`);
  if (gate || !report.data) return <section className="card span-2">{gate}</section>;
  const r: QualityReport = report.data;
  const tags = Object.entries(r.byTag);
  return (
    <section className="card span-2" aria-labelledby="report-title" data-testid="quality-report">
      <div className="card-head">
        <h2 id="report-title">
          Report #{r.id} · <span className="mono">{r.tag}</span> <StatusBadge status={r.verdict} />
        </h2>
        <Link href={`/pipelines/${r.pipelineId}?stage=QUALITY_GATE`}>Pipeline #{r.pipelineId}</Link>
      </div>
      <dl className="facts">
        <dt>Pass rate</dt>
        <dd>
          <PassRate r={r} />
        </dd>
        <dt>Unit tests</dt>
        <dd>
          <UnitTests r={r} />
        </dd>
        <dt>Compared with</dt>
        <dd>
          {r.baseline ? (
            <Link href={`/apps/${appId}/quality?report=${r.baseline.reportId}`} className="mono">
              {r.baseline.tag} (the last released version)
            </Link>
          ) : (
            <span className="muted">nothing: no version with a report has been released yet</span>
          )}
        </dd>
        <dt>Answer time</dt>
        <dd>
          P50 {Math.round(r.latency.p50Ms)} ms · P95 {Math.round(r.latency.p95Ms)} ms over {r.latency.calls}{" "}
          calls
        </dd>
        <dt>Ran</dt>
        <dd>
          in the {r.executor} in {(r.durationMs / 1000).toFixed(1)} s, <Ago at={r.createdAt} />
        </dd>
      </dl>
      {r.waiver ? (
        <div className="note note-wait" data-testid="quality-waiver">
          <strong>Waived</strong> by {r.waiver.by} <Ago at={r.waiver.at} />: {r.waiver.reason}
        </div>
      ) : null}
      {r.reasons.length > 0 ? (
        <div className="note note-error" data-testid="quality-reasons">
          <strong>Blocked because</strong>
          <ul>
            {r.reasons.map((why) => (
              <li key={why}>{why}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {r.problems.length > 0 ? (
        <div className="note note-error" data-testid="quality-problems">
          <strong>The case set does not parse</strong> (a configuration error, not a score):
          <ul className="mono">
            {r.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {r.unitTests?.output && (r.unitTests.failed > 0 || r.unitTests.error) ? (
        <details open>
          <summary>Unit test output</summary>
          <pre className="case-text">{r.unitTests.error ?? r.unitTests.output}</pre>
        </details>
      ) : null}
      <h3>Newly failing ({r.newlyFailing.length})</h3>
      {r.newlyFailing.length === 0 ? (
        <p className="muted">No case that passed in the version compared with fails now.</p>
      ) : (
        <CaseTable cases={r.newlyFailing} testId="newly-failing" caption="Cases that newly fail" />
      )}
      {tags.length > 0 ? (
        <>
          <h3>By tag</h3>
          <table className="table" data-testid="quality-tags">
            <TableHead columns={["Tag", "Passed", "Rate"]} />
            <tbody>
              {tags.map(([tag, t]) => (
                <tr key={tag}>
                  <td className="mono">{tag}</td>
                  <td>
                    {t.passed}/{t.total}
                  </td>
                  <td className={t.passed < t.total ? "text-red" : undefined}>
                    {percent(t.total ? t.passed / t.total : 1)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {r.failing.length > r.newlyFailing.length ? (
        <details>
          <summary>Every failing case ({r.failing.length})</summary>
          <CaseTable cases={r.failing} testId="failing" caption="Every case that fails" />
        </details>
      ) : null}
      {r.newlyPassing.length > 0 ? (
        <details>
          <summary>Newly passing ({r.newlyPassing.length})</summary>
          <CaseTable cases={r.newlyPassing} testId="newly-passing" caption="Cases that newly pass" />
        </details>
      ) : null}
      {r.missing.length > 0 ? (
        <details>
          <summary>No longer in the set ({r.missing.length})</summary>
          <CaseTable
            cases={r.missing}
            testId="missing"
            caption="Cases of the compared version no longer asked"
          />
        </details>
      ) : null}
    </section>
  );
}

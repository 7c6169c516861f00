import { stageView } from "@procode/contracts/pipeline-view";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { keepsLog } from "../api/logs";
import { outputText } from "../api/outputs";
import type { Checkpoint, Pipeline } from "../api/types";
import { StateBadge, StatusBadge } from "../ui/state";
import { Link } from "wouter";
import { Ago, Elapsed } from "../ui/time";
import { StageLog } from "./StageLog";
import { WaitingNote } from "./WaitingNote";

const time = (iso: string | null) => (iso ? new Date(iso).toLocaleTimeString() : "–");

/** CODE_CHECK's checks (`{name, passed, message, file?, line?}`), when its output lists them. */
function checksOf(c: Checkpoint): { name: string; ok: boolean; detail: string }[] {
  const checks = c.output?.["checks"];
  if (!Array.isArray(checks)) return [];
  return checks.flatMap((x: unknown) => {
    const r = typeof x === "object" && x !== null ? (x as Record<string, unknown>) : {};
    if (typeof r["name"] !== "string") return [];
    const where =
      typeof r["file"] === "string"
        ? ` (${r["file"]}${typeof r["line"] === "number" ? `:${r["line"]}` : ""})`
        : "";
    return [
      {
        name: r["name"],
        ok: r["passed"] === true,
        detail: `${typeof r["message"] === "string" ? r["message"] : ""}${where}`,
      },
    ];
  });
}

const texts = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);

/** A QUALITY_GATE attempt: its verdict, figures, why it blocked, the waiver, and its report. */
function GateOutput({ c, pipeline }: { c: Checkpoint; pipeline: Pipeline }) {
  const out = c.output ?? {};
  const reportId = out["reportId"];
  const verdict = typeof out["verdict"] === "string" ? out["verdict"] : null;
  if (typeof reportId !== "number" || !verdict) return null;
  const newly = texts(out["newlyFailing"]);
  const reasons = texts(out["reasons"]);
  const problems = texts(out["problems"]);
  const passed = out["passed"];
  const cases = out["cases"];
  return (
    <dl className="facts facts-tight" data-testid="gate-output">
      <dt>Verdict</dt>
      <dd>
        <StatusBadge status={c.waiver ? "WAIVED" : verdict} />{" "}
        <Link href={`/apps/${pipeline.appId}/quality?report=${reportId}`}>report #{reportId}</Link>
      </dd>
      {typeof passed === "number" && typeof cases === "number" ? (
        <>
          <dt>Cases</dt>
          <dd>
            {passed}/{cases} passed
          </dd>
        </>
      ) : null}
      {newly.length ? (
        <>
          <dt>Newly failing</dt>
          <dd className="mono">{newly.join(", ")}</dd>
        </>
      ) : null}
      {reasons.length || problems.length ? (
        <>
          <dt>{problems.length ? "Problems" : "Blocked because"}</dt>
          <dd>
            <ul className="plain">
              {[...reasons, ...problems].map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </dd>
        </>
      ) : null}
      {c.waiver ? (
        <>
          <dt>Waived</dt>
          <dd data-testid="gate-waiver">
            by {c.waiver.by} <Ago at={c.waiver.at} />: {c.waiver.reason}
          </dd>
        </>
      ) : null}
    </dl>
  );
}

function Output({ stage, c, pipeline }: { stage: string; c: Checkpoint; pipeline: Pipeline }) {
  if (stage === "QUALITY_GATE") return <GateOutput c={c} pipeline={pipeline} />;
  const commit = outputText(c, "commitId");
  const dockerfile = outputText(c, "dockerfile");
  const image = outputText(c, "image");
  const digest = outputText(c, "digest");
  const deployId = outputText(c, "deployId") ?? (stage === "DEPLOY" ? pipeline.deployId : null);
  const checks = checksOf(c);
  if (!commit && !dockerfile && !image && !deployId && checks.length === 0) return null;
  return (
    <dl className="facts facts-tight">
      {commit ? (
        <>
          <dt>Commit</dt>
          <dd className="mono break" data-testid="output-commit">
            {commit}
          </dd>
        </>
      ) : null}
      {checks.length ? (
        <>
          <dt>Checks</dt>
          <dd>
            <ul className="checks-list">
              {checks
                .filter((k) => !k.ok)
                .map((k) => (
                  <li key={k.name}>
                    <StateBadge view="failed" label={k.name} /> <span className="muted">{k.detail}</span>
                  </li>
                ))}
            </ul>
            {checks.some((k) => k.ok) ? (
              <details>
                <summary>
                  <StateBadge view="succeeded" label={`${checks.filter((k) => k.ok).length} passed`} />
                </summary>
                <ul className="checks-list">
                  {checks
                    .filter((k) => k.ok)
                    .map((k) => (
                      <li key={k.name}>
                        <StateBadge view="succeeded" label={k.name} />{" "}
                        <span className="muted">{k.detail}</span>
                      </li>
                    ))}
                </ul>
              </details>
            ) : null}
          </dd>
        </>
      ) : null}
      {image ? (
        <>
          <dt>Image</dt>
          <dd className="mono break">
            {image}
            {digest ? <div className="muted">{digest}</div> : null}
          </dd>
        </>
      ) : null}
      {deployId ? (
        <>
          <dt>Deploy id</dt>
          <dd className="mono">
            {deployId}{" "}
            {stage === "DEPLOY" && pipeline.deployStatus ? (
              <span className="tag">{pipeline.deployStatus}</span>
            ) : null}
          </dd>
        </>
      ) : null}
      {dockerfile ? (
        <>
          <dt>Dockerfile</dt>
          <dd>
            <details>
              <summary>{dockerfile.split("\n").length} lines</summary>
              <pre className="code-block">{dockerfile}</pre>
            </details>
          </dd>
        </>
      ) : null}
    </dl>
  );
}

/** An earlier attempt, folded; its log is read only once it is unfolded. */
function OlderAttempt({ head, body }: { head: ReactNode; body: (log: boolean) => ReactNode }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="attempt-older" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{head}</summary>
      {body(open)}
    </details>
  );
}

/** The selected stage: its settings, every attempt with start, end, output, error and log. */
export function NodePanel({
  pipeline,
  stage,
  onClose,
}: {
  pipeline: Pipeline;
  stage: string;
  onClose: () => void;
}) {
  const { view, attempts } = stageView(pipeline, stage);
  const heading = useRef<HTMLHeadingElement>(null);
  const config = pipeline.stageConfigs[stage] as Record<string, unknown> | undefined;
  useEffect(() => heading.current?.focus(), [stage]);
  return (
    <aside className="panel" aria-labelledby="panel-title" data-testid="node-panel">
      <header className="panel-head">
        <h2 id="panel-title" ref={heading} tabIndex={-1}>
          {stage}
        </h2>
        <StateBadge view={view} />
        <button
          type="button"
          className="button button-quiet"
          aria-label="Close the stage panel (Escape)"
          onClick={onClose}
        >
          ✕
        </button>
      </header>
      {config ? (
        <p className="muted small">
          drive {String(config["driveMode"])} · retry {String(config["retryMode"])} · max retries{" "}
          {String(config["maxRetries"])}
        </p>
      ) : null}
      {attempts.length === 0 ? (
        <p className="muted">Not started yet.</p>
      ) : (
        <ol className="attempts-list" reversed>
          {[...attempts].reverse().map((c, i) => {
            const head = (
              <>
                <strong>Attempt {c.attempt}</strong>
                <StatusBadge status={c.status} />
                <span className="muted small">
                  {time(c.startedAt)} → {time(c.finishedAt)} ·{" "}
                  <Elapsed from={c.startedAt} to={c.finishedAt} />
                </span>
              </>
            );
            const body = (log: boolean) => (
              <>
                <WaitingNote stage={stage} c={c} />
                {c.error ? (
                  <pre className="error-block" data-testid="stage-error">
                    {c.error}
                  </pre>
                ) : null}
                <Output stage={stage} c={c} pipeline={pipeline} />
                {keepsLog(stage) && log ? (
                  <div className="attempt-log">
                    <StageLog
                      pipelineId={pipeline.id}
                      stage={stage}
                      attempt={c.attempt}
                      running={c.finishedAt === null}
                    />
                  </div>
                ) : null}
              </>
            );
            return (
              <li key={c.attempt} className="attempt" data-attempt={c.attempt}>
                {i === 0 ? (
                  <>
                    <div className="attempt-head">{head}</div>
                    {body(true)}
                  </>
                ) : (
                  <OlderAttempt head={head} body={body} />
                )}
              </li>
            );
          })}
        </ol>
      )}
    </aside>
  );
}

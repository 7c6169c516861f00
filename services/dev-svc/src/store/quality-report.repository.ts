import type { GateSettings, QualityCase, QualityUnitTests, QualityWaiver } from "@procode/contracts";
import type { Sql } from "@procode/service-kit";
import { iso, S } from "./sql.js";

const REPORTS = `${S}.quality_report`;

type StoredVerdict = "PASS" | "BLOCK" | "CONFIGURATION_ERROR";

/** A case as stored: with its key (id + digest of input and assertions), which a baseline matches on. */
export type StoredCase = QualityCase & { key: string };

/** What a report holds beyond its columns (the jsonb `document`). */
export interface QualityReportDocument {
  executor: string;
  reasons: string[];
  problems: string[];
  unitTests: QualityUnitTests | null;
  byTag: Record<string, { passed: number; total: number }>;
  /** Every case of the run, in the order of the case files. */
  cases: StoredCase[];
  newlyFailing: string[];
  newlyPassing: string[];
  /** Cases of the baseline no longer in the set, as the baseline had them. */
  missing: StoredCase[];
  latency: { p50Ms: number; p95Ms: number; calls: number };
  settings: GateSettings | null;
}

export interface NewQualityReport {
  appId: number;
  team: string;
  pipelineId: number;
  attempt: number;
  iterationPhaseId: number | null;
  tag: string;
  commitId: string | null;
  verdict: StoredVerdict;
  passRate: number;
  interval: { low: number; high: number };
  passed: number;
  total: number;
  baseline: { reportId: number; tag: string } | null;
  durationMs: number;
  document: QualityReportDocument;
}

export interface QualityReportRecord extends NewQualityReport {
  id: number;
  waiver: QualityWaiver | null;
  createdAt: string;
}

interface Row {
  id: string;
  app_id: string;
  team: string;
  pipeline_id: string;
  attempt: number;
  iteration_phase_id: string | null;
  tag: string;
  commit_id: string | null;
  verdict: StoredVerdict;
  pass_rate: number;
  interval_low: number;
  interval_high: number;
  passed: number;
  total: number;
  baseline_report_id: string | null;
  baseline_tag: string | null;
  duration_ms: number;
  document: QualityReportDocument;
  waiver: QualityWaiver | null;
  created_at: Date;
}

const toRecord = (r: Row): QualityReportRecord => ({
  id: Number(r.id),
  appId: Number(r.app_id),
  team: r.team,
  pipelineId: Number(r.pipeline_id),
  attempt: r.attempt,
  iterationPhaseId: r.iteration_phase_id === null ? null : Number(r.iteration_phase_id),
  tag: r.tag,
  commitId: r.commit_id,
  verdict: r.verdict,
  passRate: r.pass_rate,
  interval: { low: r.interval_low, high: r.interval_high },
  passed: r.passed,
  total: r.total,
  baseline:
    r.baseline_report_id === null
      ? null
      : { reportId: Number(r.baseline_report_id), tag: r.baseline_tag ?? "" },
  durationMs: r.duration_ms,
  document: r.document,
  waiver: r.waiver,
  createdAt: iso(r.created_at)!,
});

/**
 * Stores an attempt's report; the same attempt run again (a takeover after its runner died)
 * replaces its report. Returns the report's id.
 */
export async function saveQualityReport(db: Sql, r: NewQualityReport): Promise<number> {
  // jsonb refuses NUL characters, which an agent's answer may carry.
  const document = JSON.stringify(r.document).replaceAll("\\u0000", "");
  const res = await db.query<{ id: string }>(
    `insert into ${REPORTS} (app_id, team, pipeline_id, attempt, iteration_phase_id, tag, commit_id, verdict,
       pass_rate, interval_low, interval_high, passed, total, newly_failing_count, baseline_report_id,
       baseline_tag, duration_ms, document)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb)
     on conflict (pipeline_id, attempt) do update set
       iteration_phase_id = excluded.iteration_phase_id, tag = excluded.tag, commit_id = excluded.commit_id,
       verdict = excluded.verdict, pass_rate = excluded.pass_rate, interval_low = excluded.interval_low,
       interval_high = excluded.interval_high, passed = excluded.passed, total = excluded.total,
       newly_failing_count = excluded.newly_failing_count, baseline_report_id = excluded.baseline_report_id,
       baseline_tag = excluded.baseline_tag, duration_ms = excluded.duration_ms, document = excluded.document,
       created_at = now()
     returning id`,
    [
      r.appId,
      r.team,
      r.pipelineId,
      r.attempt,
      r.iterationPhaseId,
      r.tag,
      r.commitId,
      r.verdict,
      r.passRate,
      r.interval.low,
      r.interval.high,
      r.passed,
      r.total,
      r.document.newlyFailing.length,
      r.baseline?.reportId ?? null,
      r.baseline?.tag ?? null,
      r.durationMs,
      document,
    ],
  );
  return Number(res.rows[0]!.id);
}

export async function findQualityReport(
  db: Sql,
  appId: number,
  id: number,
): Promise<QualityReportRecord | null> {
  const res = await db.query<Row>(`select * from ${REPORTS} where id = $1 and app_id = $2`, [id, appId]);
  return res.rows[0] ? toRecord(res.rows[0]) : null;
}

/** A page of an app's reports, newest first, without their documents' cases. */
export async function listQualityReports(
  db: Sql,
  appId: number,
  q: { limit: number; offset: number },
): Promise<{ items: (QualityReportRecord & { newlyFailingCount: number })[]; total: number }> {
  const res = await db.query<Row & { newly_failing_count: number }>(
    `select id, app_id, team, pipeline_id, attempt, iteration_phase_id, tag, commit_id, verdict, pass_rate,
       interval_low, interval_high, passed, total, newly_failing_count, baseline_report_id, baseline_tag,
       duration_ms, waiver, created_at,
       jsonb_build_object('executor', document->'executor', 'unitTests', document->'unitTests') as document
     from ${REPORTS} where app_id = $1 order by id desc limit $2 offset $3`,
    [appId, q.limit, q.offset],
  );
  const total = await db.query<{ n: string }>(`select count(*) as n from ${REPORTS} where app_id = $1`, [
    appId,
  ]);
  return {
    items: res.rows.map((r) => ({ ...toRecord(r), newlyFailingCount: r.newly_failing_count })),
    total: Number(total.rows[0]?.n ?? 0),
  };
}

/**
 * The report of the app's last RELEASED version: the newest report of a release whose phase
 * pipeline succeeded (its gate passed, or was waived), never a blocked run nor the latest one.
 * `exceptPipelineId` leaves out the release being gated.
 */
export async function lastReleasedReport(
  db: Sql,
  appId: number,
  exceptPipelineId: number,
): Promise<QualityReportRecord | null> {
  const res = await db.query<Row>(
    `select r.* from ${REPORTS} r
     join ${S}.iteration_phase p on p.id = r.iteration_phase_id
     where r.app_id = $1 and r.pipeline_id <> $2 and p.status = 'SUCCESS'
       and (r.verdict = 'PASS' or (r.verdict = 'BLOCK' and r.waiver is not null))
     order by r.id desc limit 1`,
    [appId, exceptPipelineId],
  );
  return res.rows[0] ? toRecord(res.rows[0]) : null;
}

/**
 * Records a waiver on a blocked report of the app; false when there is no such report (or it is not
 * a BLOCK). A waiver already recorded is kept (the event may come twice).
 */
export async function recordWaiver(
  db: Sql,
  appId: number,
  reportId: number,
  waiver: QualityWaiver,
): Promise<"recorded" | "already" | "missing"> {
  const res = await db.query<{ id: string; had: boolean }>(
    `with before as (select id, waiver is not null as had from ${REPORTS}
       where id = $1 and app_id = $2 and verdict = 'BLOCK' for update)
     update ${REPORTS} r set waiver = coalesce(r.waiver, $3::jsonb)
     from before where r.id = before.id returning r.id, before.had`,
    [reportId, appId, JSON.stringify(waiver)],
  );
  const row = res.rows[0];
  if (!row) return "missing";
  return row.had ? "already" : "recorded";
}

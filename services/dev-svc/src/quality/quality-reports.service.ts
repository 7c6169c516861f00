import type {
  Actor,
  Page,
  PageQuery,
  QualityCase,
  QualityReport,
  QualityReportItem,
  QualityVerdict,
  QualityWaiver,
} from "@procode/contracts";
import { DomainError, type Database, type Logger } from "@procode/service-kit";
import {
  findQualityReport,
  listQualityReports,
  recordWaiver,
  type QualityReportRecord,
  type StoredCase,
} from "../store/quality-report.repository.js";
import { requireTeamApp } from "../git/app-access.js";

/** A blocked report with a waiver reads WAIVED: a person let the release through. */
const verdictOf = (r: QualityReportRecord): QualityVerdict =>
  r.verdict === "BLOCK" && r.waiver ? "WAIVED" : r.verdict;

function headOf(r: QualityReportRecord) {
  return {
    id: r.id,
    appId: r.appId,
    pipelineId: r.pipelineId,
    attempt: r.attempt,
    iterationPhaseId: r.iterationPhaseId,
    tag: r.tag,
    commitId: r.commitId,
    verdict: verdictOf(r),
    passRate: r.passRate,
    interval: r.interval,
    passed: r.passed,
    total: r.total,
    unitTests: r.document.unitTests,
    executor: r.document.executor,
    baseline: r.baseline,
    waiver: r.waiver,
    durationMs: r.durationMs,
    createdAt: r.createdAt,
  };
}

const publicCase = ({ key: _, ...c }: StoredCase): QualityCase => c;

/** The quality gate's reports as the team reads them (docs/api.md, "Quality gate"). */
export class QualityReports {
  constructor(
    private readonly db: Database,
    private readonly log: Logger,
  ) {}

  async list(actor: Actor, appId: number, q: PageQuery): Promise<Page<QualityReportItem>> {
    await requireTeamApp(this.db.sql, actor, appId);
    const { items, total } = await listQualityReports(this.db.sql, appId, {
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    return {
      items: items.map((r) => ({ ...headOf(r), newlyFailingCount: r.newlyFailingCount })),
      total,
      page: q.page,
      pageSize: q.pageSize,
    };
  }

  async get(actor: Actor, appId: number, reportId: number): Promise<QualityReport> {
    await requireTeamApp(this.db.sql, actor, appId);
    const r = await findQualityReport(this.db.sql, appId, reportId);
    if (!r)
      throw new DomainError(
        "QUALITY_REPORT_NOT_FOUND",
        `quality report ${reportId} of app ${appId} not found`,
      );
    const d = r.document;
    const named = (ids: string[]) => {
      const byId = new Map(d.cases.map((c) => [c.id, c]));
      return ids.flatMap((id) => (byId.has(id) ? [publicCase(byId.get(id)!)] : []));
    };
    return {
      ...headOf(r),
      reasons: d.reasons,
      problems: d.problems,
      byTag: d.byTag,
      newlyFailing: named(d.newlyFailing),
      newlyPassing: named(d.newlyPassing),
      missing: d.missing.map(publicCase),
      failing: d.cases.filter((c) => !c.pass).map(publicCase),
      latency: d.latency,
      settings: d.settings,
    };
  }

  /** `quality.waived.v1`: the waiver goes on the blocked report it let through. */
  async recordWaiver(
    appId: number,
    reportId: number,
    waiver: QualityWaiver,
  ): Promise<"done" | "duplicate" | "ignored"> {
    const outcome = await recordWaiver(this.db.sql, appId, reportId, waiver);
    if (outcome === "missing") {
      this.log.warn(
        { appId, reportId },
        "waiver for a report that is not a blocked report of the app; ignored",
      );
      return "ignored";
    }
    if (outcome === "already") return "duplicate";
    this.log.info({ appId, reportId, by: waiver.by }, "waiver recorded on the quality report");
    return "done";
  }
}

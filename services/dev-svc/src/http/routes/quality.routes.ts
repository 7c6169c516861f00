import {
  AppIdParam,
  Envelope,
  ok,
  Page,
  PageQuery,
  QualityReport,
  QualityReportItem,
  QualityReportParams,
} from "@procode/contracts";
import { actorOf, type HttpServer } from "@procode/service-kit";
import type { QualityReports } from "../../quality/quality-reports.service.js";

/** The quality gate's reports of an app (docs/quality-gate.md, "Reports"); another team's app is 404. */
export function registerQualityRoutes(app: HttpServer, reports: QualityReports): void {
  app.get(
    "/apps/:id/quality",
    {
      schema: {
        operationId: "listAppQualityReports",
        tags: ["quality"],
        summary: "The app's quality gate history, newest first, paged",
        description:
          "One item per QUALITY_GATE attempt: verdict (PASS, BLOCK, CONFIGURATION_ERROR, or WAIVED for a BLOCK a person let through), pass rate with its 95% Wilson interval, the number of newly failing cases against the last released version, the unit tests, the tag and commit.",
        params: AppIdParam,
        querystring: PageQuery,
        response: { 200: Envelope(Page(QualityReportItem)) },
        errors: ["APP_NOT_FOUND"],
      },
    },
    async (request) => ok(await reports.list(actorOf(request), request.params.id, request.query)),
  );

  app.get(
    "/apps/:id/quality/:reportId",
    {
      schema: {
        operationId: "getAppQualityReport",
        tags: ["quality"],
        summary: "One quality gate report with its reasons and cases",
        description:
          "The newly failing, newly passing and missing cases against the last released version and every failing case, each with its input, the agent's output and the failing assertion; scores per tag; /invoke latency P50/P95; the waiver when one was recorded.",
        params: QualityReportParams,
        response: { 200: Envelope(QualityReport) },
        errors: ["APP_NOT_FOUND", "QUALITY_REPORT_NOT_FOUND"],
      },
    },
    async (request) => ok(await reports.get(actorOf(request), request.params.id, request.params.reportId)),
  );
}

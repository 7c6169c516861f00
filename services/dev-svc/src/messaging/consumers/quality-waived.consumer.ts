import { QualityWaived } from "@procode/contracts";
import type { ConsumerGroup } from "@procode/service-kit";
import type { QualityReports } from "../../quality/quality-reports.service.js";

/**
 * `quality.waived.v1`: a person let a release blocked by the quality gate through (`POST
 * /pipelines/{id}/proceed` with a reason). The waiver is recorded on the blocked report; a repeat
 * changes nothing (the first waiver is kept), and one for a report that is not a blocked report of
 * the app is acked and logged.
 */
export function addQualityWaivedConsumer(consumers: ConsumerGroup, reports: QualityReports): void {
  consumers.add({
    durable: "dev-svc-quality-waived",
    def: QualityWaived,
    concurrency: 4,
    handle: ({ data }) =>
      reports.recordWaiver(data.appId, data.reportId, { by: data.by, reason: data.reason, at: data.at }),
  });
}

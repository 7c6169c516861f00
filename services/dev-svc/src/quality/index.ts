import type { ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { GitIntegration } from "../git/index.js";
import { registerQualityRoutes } from "../http/routes/quality.routes.js";
import { addQualityWaivedConsumer } from "../messaging/consumers/quality-waived.consumer.js";
import type { StageWork } from "../runners/stage-work.js";
import { QualityReports } from "./quality-reports.service.js";
import { qualityGateWork } from "./quality-gate.runner.js";

/**
 * The agent quality gate (docs/quality-gate.md): the QUALITY_GATE stage's work for the stage
 * runners, its reports' routes, and the waivers recorded on them.
 */
export function createQualityGate(deps: ServiceDeps<Config>, git: GitIntegration): { work: StageWork } {
  const reports = new QualityReports(deps.db, deps.log.child({ part: "quality" }));
  registerQualityRoutes(deps.app, reports);
  addQualityWaivedConsumer(deps.consumers, reports);
  return {
    work: qualityGateWork(deps.db, git.access, {
      timeoutMs: deps.config.QUALITY_GATE_TIMEOUT_MS,
      judgeModel: deps.config.QUALITY_JUDGE_MODEL,
      judgePolicy: {
        allowHttp: deps.config.QUALITY_JUDGE_ALLOW_HTTP,
        allowHosts: deps.config.QUALITY_JUDGE_ALLOWED_HOSTS,
      },
    }),
  };
}

import type { BuildOutput } from "@procode/contracts";
import type { TemplateCatalog } from "../scaffold/templates.js";
import { renderDockerfile } from "./dockerfile.js";
import { DEFAULT_PYTHON_VERSION } from "./python/project.js";
import { StageFailedError, type StageContext, type StageResult, type StageWork } from "./stage-work.js";

/**
 * BUILD: renders the Dockerfile of the app's scaffold template (its tech stack's default
 * template when it has none) from what CODE_CHECK found: Python version (base image pinned by tag),
 * dependency file, entry point. Output: BuildOutput `{dockerfile, baseImage}`.
 */
export function buildWork(templates: TemplateCatalog, opts: { timeoutMs: number }): StageWork {
  return {
    stage: "BUILD",
    timeoutMs: opts.timeoutMs,
    async run(ctx: StageContext): Promise<StageResult> {
      const codeCheck = ctx.request.inputs.CODE_CHECK;
      if (!codeCheck) {
        throw new StageFailedError(
          "BUILD needs CODE_CHECK's output (inputs.CODE_CHECK is missing)",
          { input: "CODE_CHECK" },
          false,
        );
      }
      if (!ctx.app) {
        throw new StageFailedError(
          `BUILD: app ${ctx.request.appId} is not known to dev-svc (no app event received)`,
          { appId: ctx.request.appId },
          true,
        );
      }
      const templateName = ctx.app.procode?.scaffoldTemplate ?? null;
      const template = templates.forApp(templateName, ctx.app.techStack);
      if (!template) {
        throw new StageFailedError(
          templateName
            ? `BUILD: the app's scaffold template "${templateName}" does not exist`
            : `BUILD: no Dockerfile template for tech stack "${ctx.app.techStack ?? "(none)"}"`,
          { template: templateName, techStack: ctx.app.techStack },
          false,
        );
      }
      ctx.step(`rendering the ${template.name} Dockerfile template`);
      ctx.out.info(
        `rendering the ${template.name} Dockerfile template with what CODE_CHECK found at ${codeCheck.commitId.slice(0, 12)}: Python ${codeCheck.pythonVersion ?? `${DEFAULT_PYTHON_VERSION} (default)`}, dependencies ${codeCheck.dependencyFile ?? "(none)"}, entry point ${codeCheck.entryPoint ?? "(none)"}`,
      );
      const rendered = renderDockerfile({
        template: template.dockerfileTemplate,
        templateName: template.name,
        codeCheck,
        defaultPythonVersion: DEFAULT_PYTHON_VERSION,
      });
      ctx.out.info(`rendered Dockerfile (base image ${rendered.baseImage}):`);
      for (const line of rendered.dockerfile.replace(/\n$/, "").split("\n")) ctx.out.info(`  ${line}`);
      const output: BuildOutput = { dockerfile: rendered.dockerfile, baseImage: rendered.baseImage };
      return { outcome: "SUCCESS", output };
    },
  };
}

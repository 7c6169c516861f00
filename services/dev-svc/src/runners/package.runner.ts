import { createHash } from "node:crypto";
import type { PackageOutput } from "@procode/contracts";
import type { Database } from "@procode/service-kit";
import type { ImageBuilder } from "../integrations/image-builder/image-builder.js";
import { findRepo } from "../store/git-repo.repository.js";
import { imageName, imageTag } from "./dockerfile.js";
import { StageFailedError, type StageContext, type StageResult, type StageWork } from "./stage-work.js";

export interface PackageOptions {
  /** Registry and namespace images go to, e.g. `registry.local/procode`. */
  registry: string;
  /** The installation's name (ENV_NAME): part of every build's idempotency key. */
  envName: string;
  timeoutMs: number;
}

/**
 * The idempotency key of an attempt's build: `procode-package-<pipeline>-<attempt>-<what>`, where
 * `<what>` is a digest of the installation, the image and the commit. The same attempt always asks
 * under the same key (a runner taking it over, a platform restored from a backup re-attach to the
 * same build); a pipeline id given again after a restore, for another release, or another
 * installation sharing the builder never meets this build (docs/operations.md "Backup and restore").
 */
function buildKey(envName: string, pipelineId: number, attempt: number, image: string, commitId: string) {
  const what = createHash("sha256").update(`${envName}\0${image}\0${commitId}`).digest("hex").slice(0, 12);
  return `procode-package-${pipelineId}-${attempt}-${what}`;
}

/**
 * PACKAGE: hands the source commit (CODE_CHECK), the Dockerfile (BUILD) and the target
 * reference `<registry>/<app name>:<tag>` to the image builder and follows the build to its end.
 * Output: PackageOutput `{image, digest?, buildId}`. The build is asked for with a key of the
 * attempt (`buildKey`), so a runner taking the attempt over re-attaches to the same build. A builder that does
 * not answer is waited for, never a failure.
 */
export function packageWork(db: Database, builder: ImageBuilder, opts: PackageOptions): StageWork {
  return {
    stage: "PACKAGE",
    timeoutMs: opts.timeoutMs,
    async run(ctx: StageContext): Promise<StageResult> {
      const { request } = ctx;
      const commitId = request.inputs.CODE_CHECK?.commitId;
      const dockerfile = request.inputs.BUILD?.dockerfile;
      if (!commitId || !dockerfile) {
        throw new StageFailedError(
          `PACKAGE needs CODE_CHECK's commitId and BUILD's dockerfile (missing: ${[
            ...(commitId ? [] : ["inputs.CODE_CHECK.commitId"]),
            ...(dockerfile ? [] : ["inputs.BUILD.dockerfile"]),
          ].join(", ")})`,
          { inputs: Object.keys(request.inputs) },
          false,
        );
      }
      if (!ctx.app) {
        throw new StageFailedError(
          `PACKAGE: app ${request.appId} is not known to dev-svc (no app event received)`,
          { appId: request.appId },
          true,
        );
      }
      const image = `${opts.registry}/${imageName(ctx.app.name, request.appId)}:${imageTag(request.tag)}`;
      const repo = await findRepo(db.sql, request.appId);
      ctx.step(`creating the build of ${image} at ${builder.describe}`);
      ctx.out.info(
        `asking ${builder.describe} to build ${image} from commit ${commitId.slice(0, 12)} with the rendered Dockerfile`,
      );
      let said = "";
      const built = await builder.build(
        {
          appId: request.appId,
          commitId,
          dockerfile,
          image,
          ...(repo ? { repoUrl: repo.externalGitUrl } : {}),
          idempotencyKey: buildKey(opts.envName, request.pipelineId, request.attempt, image, commitId),
        },
        ctx.signal,
        (s) => {
          ctx.step(`waiting for build ${s.buildId} of ${image} (${s.status})`);
          // Each change of what the builder says, once.
          const now = `build ${s.buildId}: ${s.status}${s.message ? `: ${s.message}` : ""}`;
          if (now !== said) ctx.out.info(`builder answers: ${now}`);
          said = now;
        },
        (reason) => ctx.waiting(reason),
      );
      ctx.out.info(
        `image ${built.image} built${built.digest ? ` (digest ${built.digest})` : ""}, build ${built.buildId}`,
      );
      const output: PackageOutput = {
        image: built.image,
        buildId: built.buildId,
        ...(built.digest ? { digest: built.digest } : {}),
      };
      return { outcome: "SUCCESS", output };
    },
  };
}

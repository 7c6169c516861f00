import type { ServiceDeps } from "@procode/service-kit";
import type { Config } from "../config.js";
import type { GitIntegration } from "../git/index.js";
import { ScaffoldService } from "./scaffold.service.js";
import { resolveTemplatesDir, TemplateCatalog } from "./templates.js";

/**
 * Loads the scaffold templates (the service does not start without them: BUILD renders their
 * Dockerfiles) and makes the scaffold push a step of every repository binding.
 */
export async function installScaffold(
  deps: ServiceDeps<Config>,
  git: GitIntegration,
): Promise<TemplateCatalog> {
  const dir = resolveTemplatesDir(deps.config.SCAFFOLD_TEMPLATES_DIR);
  let templates: TemplateCatalog;
  try {
    templates = await TemplateCatalog.load(dir);
  } catch (err) {
    throw new Error(
      `SCAFFOLD_TEMPLATES_DIR: cannot load the scaffold templates from ${dir}: ${(err as Error).message}`,
    );
  }
  git.binder.addBindStep(new ScaffoldService(deps.outbox, templates).step);
  return templates;
}

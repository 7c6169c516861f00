import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { SCAFFOLD_TEMPLATES } from "@procode/contracts";
import { shippedPath } from "../shipped.js";

/**
 * The scaffold templates shipped with dev-svc (`services/dev-svc/templates/<name>/`): `template.json`
 * (tech stack, description, commit message), `files/` (committed as a new repository's first commit)
 * and `Dockerfile.template` (what BUILD renders for apps of that template, and for apps of its tech
 * stack without a template).
 */
export interface ScaffoldTemplate {
  name: string;
  techStack: string;
  description: string;
  commitMessage: string;
  /** Repository path -> content, sorted by path. */
  files: { path: string; content: Buffer }[];
  dockerfileTemplate: string;
}

const Manifest = z.object({
  name: z.string().min(1),
  techStack: z.string().min(1),
  description: z.string(),
  commitMessage: z.string().min(1),
});

/** The template BUILD uses for an app of a tech stack that names no template. */
const DEFAULT_TEMPLATE_BY_STACK: Record<string, string> = { python: "python-agent" };

/** git's object id of a blob (`git hash-object`), to recognise files already in a repository. */
export function gitBlobId(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

export class TemplateCatalog {
  private constructor(private readonly byName: Map<string, ScaffoldTemplate>) {}

  /** Reads every template under `dir`; each name the platform offers must be there. */
  static async load(dir: string): Promise<TemplateCatalog> {
    const byName = new Map<string, ScaffoldTemplate>();
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const root = path.join(dir, entry.name);
      const manifestPath = path.join(root, "template.json");
      if (!existsSync(manifestPath)) continue;
      const manifest = Manifest.parse(JSON.parse(await readFile(manifestPath, "utf8")));
      if (manifest.name !== entry.name) {
        throw new Error(`scaffold template ${entry.name}: template.json names it "${manifest.name}"`);
      }
      const files = await readTree(path.join(root, "files"));
      if (!files.length) throw new Error(`scaffold template ${entry.name} has no files`);
      byName.set(manifest.name, {
        ...manifest,
        files,
        dockerfileTemplate: await readFile(path.join(root, "Dockerfile.template"), "utf8"),
      });
    }
    const missing = SCAFFOLD_TEMPLATES.filter((n) => !byName.has(n));
    if (missing.length) throw new Error(`scaffold templates missing from ${dir}: ${missing.join(", ")}`);
    return new TemplateCatalog(byName);
  }

  get(name: string): ScaffoldTemplate | undefined {
    return this.byName.get(name);
  }

  /** The app's template, or its tech stack's default when it names none. */
  forApp(
    scaffoldTemplate: string | null | undefined,
    techStack: string | null | undefined,
  ): ScaffoldTemplate | undefined {
    if (scaffoldTemplate) return this.byName.get(scaffoldTemplate);
    const fallback = DEFAULT_TEMPLATE_BY_STACK[techStack ?? "python"];
    return fallback ? this.byName.get(fallback) : undefined;
  }
}

async function readTree(root: string, prefix = ""): Promise<{ path: string; content: Buffer }[]> {
  const out: { path: string; content: Buffer }[] = [];
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    // Bytecode left by running the template's tests locally is not part of it.
    if (entry.name === "__pycache__" || entry.name.endsWith(".pyc")) continue;
    if (entry.isDirectory()) out.push(...(await readTree(root, rel)));
    else if (entry.isFile()) out.push({ path: rel, content: await readFile(path.join(root, rel)) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Where the templates are: the configured directory, else the ones shipped with dev-svc. */
export function resolveTemplatesDir(configured: string | undefined): string {
  return configured ?? shippedPath("templates");
}

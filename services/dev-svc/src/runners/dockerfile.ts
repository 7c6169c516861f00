import type { CodeCheckOutput } from "@procode/contracts";
import { SAFE_PATH, SAFE_SCRIPT } from "./python/project.js";

/**
 * BUILD's rendering, with no I/O: a template's Dockerfile with `{{NAME}}` placeholders, filled from
 * CODE_CHECK's findings. Every value is checked first (they travel over the wire), so nothing a
 * repository contains can add a line to the Dockerfile.
 */

export class RenderError extends Error {
  override name = "RenderError";
  constructor(
    message: string,
    /** The input at fault, e.g. `inputs.CODE_CHECK.entryPoint`. */
    readonly field: string,
  ) {
    super(message);
  }
}

export interface RenderInput {
  template: string;
  /** Template name, for messages. */
  templateName: string;
  codeCheck: CodeCheckOutput;
  defaultPythonVersion: string;
}

export interface Rendered {
  dockerfile: string;
  baseImage: string;
  /** The command the image runs, as in its CMD. */
  command: string[];
}

/** How the image starts the entry point found by CODE_CHECK. */
export function startCommand(entryPoint: string): { command: string[]; pythonPath: string | null } {
  if (!entryPoint.endsWith(".py")) {
    if (!SAFE_SCRIPT.test(entryPoint))
      throw new RenderError(`"${entryPoint}" is not a command name`, "inputs.CODE_CHECK.entryPoint");
    return { command: [entryPoint], pythonPath: null };
  }
  if (!SAFE_PATH.test(entryPoint)) {
    throw new RenderError(`"${entryPoint}" is not a repository path`, "inputs.CODE_CHECK.entryPoint");
  }
  const parts = entryPoint.slice(0, -3).split("/");
  if (parts.length === 1) return { command: ["python", entryPoint], pythonPath: null };
  const inSrc = parts[0] === "src" && parts.length > 2;
  const moduleParts = (inSrc ? parts.slice(1) : parts).filter(
    (p, i, all) => !(p === "__main__" && i === all.length - 1),
  );
  if (moduleParts.every((p) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) {
    // Run as a module so that the package's own imports work.
    return { command: ["python", "-m", moduleParts.join(".")], pythonPath: inSrc ? "/app/src" : null };
  }
  return { command: ["python", entryPoint], pythonPath: null };
}

export function renderDockerfile(input: RenderInput): Rendered {
  const cc = input.codeCheck;
  if (!/^[0-9a-f]{7,64}$/.test(cc.commitId)) {
    throw new RenderError(`"${cc.commitId}" is not a commit id`, "inputs.CODE_CHECK.commitId");
  }
  const version = cc.pythonVersion ?? input.defaultPythonVersion;
  if (!/^3\.\d{1,2}(\.\d{1,3})?$/.test(version)) {
    throw new RenderError(`"${version}" is not a Python version`, "inputs.CODE_CHECK.pythonVersion");
  }
  if (!cc.entryPoint)
    throw new RenderError("CODE_CHECK found no entry point", "inputs.CODE_CHECK.entryPoint");
  let install: string;
  switch (cc.dependencyFile) {
    case "requirements.txt":
      install = "RUN pip install -r requirements.txt";
      break;
    case "pyproject.toml":
      install = "RUN pip install .";
      break;
    default:
      throw new RenderError(
        `dependency file "${cc.dependencyFile ?? ""}" is not requirements.txt or pyproject.toml`,
        "inputs.CODE_CHECK.dependencyFile",
      );
  }
  const { command, pythonPath } = startCommand(cc.entryPoint);
  const baseImage = `python:${version}-slim`;
  const values: Record<string, string> = {
    BASE_IMAGE: baseImage,
    PYTHON_VERSION: version,
    COMMIT_ID: cc.commitId,
    DEPENDENCY_FILE: cc.dependencyFile,
    ENTRY_POINT: cc.entryPoint,
    INSTALL: install,
    START: [...(pythonPath ? [`ENV PYTHONPATH=${pythonPath}`] : []), `CMD ${JSON.stringify(command)}`].join(
      "\n",
    ),
  };
  const unknown = new Set<string>();
  const dockerfile = input.template.replace(/\{\{\s*([A-Z_]+)\s*\}\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) unknown.add(name);
    return v ?? "";
  });
  if (unknown.size) {
    throw new RenderError(
      `the ${input.templateName} Dockerfile template uses unknown placeholders: ${[...unknown].join(", ")}`,
      "template",
    );
  }
  if (/\{\{|\}\}/.test(dockerfile)) {
    throw new RenderError(
      `the ${input.templateName} Dockerfile template has a malformed placeholder`,
      "template",
    );
  }
  return { dockerfile, baseImage, command };
}

/** A Docker repository name from an app name: lowercase, `[a-z0-9]` runs joined by `.`, `_` or `-`. */
export function imageName(appName: string, appId: number): string {
  const name = appName
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/[._-]{2,}/g, "-")
    .replace(/^[._-]+|[._-]+$/g, "")
    .slice(0, 100)
    .replace(/[._-]+$/, "");
  return name || `app-${appId}`;
}

/** A Docker tag from a release tag (`v1.0.0` stays as it is). */
export function imageTag(tag: string): string {
  const t = tag
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 128);
  return t || "latest";
}

import { readRepositoryUrl, type GitType, type RepositoryLocation } from "@procode/contracts";

export type Located = { ok: true; location: RepositoryLocation } | { ok: false; reason: string };

/**
 * Where an app's repository lives and how its provider's API is reached, from the URL and provider
 * app-svc stored, read with the same grammar app-svc accepted them with (contracts
 * `readRepositoryUrl`).
 */
export function locateRepository(rawUrl: string, gitType: GitType): Located {
  const reading = readRepositoryUrl(rawUrl, gitType);
  if (!reading.ok) return { ok: false, reason: `${reading.problem.field}: ${reading.problem.rule}` };
  return { ok: true, location: reading.location };
}

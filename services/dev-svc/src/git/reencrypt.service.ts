import { errorMessage, type Database, type Logger } from "@procode/service-kit";
import { credentialsToReseal, updateSealedToken } from "../store/credential.repository.js";
import { reposToReseal, updateSealedWebhookSecret } from "../store/git-repo.repository.js";
import type { Secrets } from "./secrets.js";

export interface ResealReport {
  activeKeyId: string;
  credentials: number;
  webhookSecrets: number;
  failed: { what: string; reason: string }[];
}

/**
 * Key rotation: re-seals every credential token and every stored webhook secret under the
 * active key (the first of ENCRYPTION_KEYS). Each row is replaced only if it is still what was read,
 * so it can run while the service runs; rows that cannot be opened are reported, not touched.
 */
export async function resealAll(db: Database, secrets: Secrets, log: Logger): Promise<ResealReport> {
  const report: ResealReport = {
    activeKeyId: secrets.activeKeyId,
    credentials: 0,
    webhookSecrets: 0,
    failed: [],
  };
  const skip = new Set<string>();
  for (;;) {
    const batch = (await credentialsToReseal(db.sql, secrets.activeKeyId, 200)).filter(
      (c) => !skip.has(c.id),
    );
    if (batch.length === 0) break;
    for (const c of batch) {
      try {
        const next = secrets.resealToken(c.id, c.sealed);
        if (await updateSealedToken(db.sql, c.id, c.sealed, next)) report.credentials++;
      } catch (err) {
        skip.add(c.id);
        report.failed.push({ what: `credential ${c.id}`, reason: errorMessage(err) });
      }
    }
  }
  const skipApps = new Set<number>();
  for (;;) {
    const batch = (await reposToReseal(db.sql, secrets.activeKeyId, 200)).filter(
      (r) => !skipApps.has(r.appId),
    );
    if (batch.length === 0) break;
    for (const r of batch) {
      try {
        const next = secrets.resealWebhookSecret(r.webhookSecret!);
        if (await updateSealedWebhookSecret(db.sql, r.appId, r.webhookSecret!, next)) report.webhookSecrets++;
      } catch (err) {
        skipApps.add(r.appId);
        report.failed.push({ what: `webhook secret of app ${r.appId}`, reason: errorMessage(err) });
      }
    }
  }
  log.info(
    {
      activeKeyId: report.activeKeyId,
      credentials: report.credentials,
      webhookSecrets: report.webhookSecrets,
      failed: report.failed.length,
    },
    "secrets re-sealed under the active key",
  );
  return report;
}

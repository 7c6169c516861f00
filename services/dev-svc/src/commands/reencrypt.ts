/**
 * `pnpm --filter @procode/dev-svc reencrypt`: re-seals every credential token and webhook secret
 * under the active key (the first key of ENCRYPTION_KEYS), for key rotation. Reads DATABASE_URL and
 * ENCRYPTION_KEYS like the service; prints what it did; exits 1 when something could not be opened.
 */
import { z } from "zod";
import {
  BaseConfig,
  createLogger,
  Database,
  KeyRing,
  loadConfig,
  migrateDatabase,
} from "@procode/service-kit";
import { resealAll } from "../git/reencrypt.service.js";
import { Secrets } from "../git/secrets.js";
import { migrations } from "../store/migrations.js";

const CommandConfig = BaseConfig.pick({ DATABASE_URL: true, LOG_LEVEL: true }).extend({
  ENCRYPTION_KEYS: z.string().min(1),
});

async function reencrypt(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(CommandConfig, env);
  const log = createLogger({ name: "dev-svc", level: config.LOG_LEVEL });
  const secrets = new Secrets(new KeyRing(config.ENCRYPTION_KEYS));
  await migrateDatabase({ url: config.DATABASE_URL, schema: "dev", migrations, log });
  const db = new Database({ url: config.DATABASE_URL, poolMax: 2, log });
  try {
    const report = await resealAll(db, secrets, log);
    process.stdout.write(
      `re-sealed under key "${report.activeKeyId}": ${report.credentials} credential(s), ${report.webhookSecrets} webhook secret(s)\n`,
    );
    for (const f of report.failed) process.stderr.write(`could not re-seal ${f.what}: ${f.reason}\n`);
    return report.failed.length ? 1 : 0;
  } finally {
    await db.close();
  }
}

try {
  process.exit(await reencrypt());
} catch (err) {
  process.stderr.write(`reencrypt failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

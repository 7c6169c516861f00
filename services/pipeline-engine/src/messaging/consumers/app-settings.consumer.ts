import { AppCreated, ProcodeConfigChanged } from "@procode/contracts";
import { pooledSql, type ConsumerSpec, type Orm } from "@procode/service-kit";
import { upsertAppSettings } from "../../store/app-settings.repository.js";

/**
 * app.created / app.procode_config_changed: keep each app's pipeline settings (stage overrides,
 * phases, concurrency policy, deploy config, team). The newest revision wins whatever the order of
 * arrival, which also makes a redelivery harmless.
 */
export function appSettingsConsumers(
  orm: Orm,
): [ConsumerSpec<typeof AppCreated>, ConsumerSpec<typeof ProcodeConfigChanged>] {
  const db = pooledSql(orm);
  const handle = async (data: Parameters<typeof upsertAppSettings>[1]) =>
    (await upsertAppSettings(db, data)) ? ("done" as const) : ("ignored" as const);
  return [
    {
      durable: "pipeline-engine-app-created",
      def: AppCreated,
      handle: (message) => handle(message.data),
    },
    {
      durable: "pipeline-engine-procode-config-changed",
      def: ProcodeConfigChanged,
      handle: (message) => handle(message.data),
    },
  ];
}

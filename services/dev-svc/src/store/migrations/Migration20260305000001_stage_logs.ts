import { Migration } from "@mikro-orm/migrations";
import { StageLogStore } from "@procode/service-kit";

/** Stage logs of the attempts this service runs (CODE_CHECK, BUILD and PACKAGE; docs/api.md "Stage logs"). */
export class Migration20260305000001_stage_logs extends Migration {
  override async up(): Promise<void> {
    for (const sql of StageLogStore.tablesSql("dev")) this.addSql(sql);
  }
}

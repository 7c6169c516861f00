import { Migration } from "@mikro-orm/migrations";
import { z } from "zod";
import { AppCreated, ok, type AppSnapshot } from "@procode/contracts";
import { actorOf, BaseConfig, requireAuthConfig, type ServiceDefinition } from "../src/index.js";

/**
 * Two tiny services built only from the kit, to prove it: a producer that records notes and emits
 * `app.created` through its outbox, and a consumer in another schema that applies each event once.
 */
const Config = BaseConfig.extend({ PORT: z.coerce.number().int().default(0) }).superRefine(requireAuthConfig);
type Config = z.infer<typeof Config>;

const NoteBody = z.object({ name: z.string().min(1).max(20), count: z.number().int().min(0) });

class ProducerTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table kit_producer.note (id serial primary key, name text not null, count int not null)`,
    );
  }
}

export function snapshot(appId: number, name: string): AppSnapshot {
  return {
    appId,
    team: "t1",
    name,
    devMode: "low-code",
    techStack: null,
    revision: 1,
    procode: null,
    createdBy: "tester",
    updatedAt: new Date().toISOString(),
  };
}

export const producer: ServiceDefinition<Config> = {
  name: "app-svc",
  schema: "kit_producer",
  configSchema: Config,
  migrations: [{ name: "Migration20260101000001_note", class: ProducerTables }],
  async build({ app, outbox }) {
    app.post("/notes", { schema: { body: NoteBody } }, async (request) => {
      const actor = actorOf(request);
      const id = await outbox.sqlTransaction(request.id, async (tx) => {
        const { rows } = await tx.sql.query<{ id: number }>(
          `insert into kit_producer.note (name, count) values ($1, $2) returning id`,
          [request.body.name, request.body.count],
        );
        const noteId = rows[0]!.id;
        tx.emit(AppCreated, {
          ...snapshot(noteId, request.body.name),
          team: actor.team,
          createdBy: actor.sub,
        });
        return noteId;
      });
      return ok({ id });
    });
    return {};
  },
};

class ConsumerTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table kit_consumer.seen (app_id int not null, name text not null, message_id text not null)`,
    );
  }
}

export const consumer: ServiceDefinition<Config> = {
  name: "dev-svc",
  schema: "kit_consumer",
  configSchema: Config,
  migrations: [{ name: "Migration20260101000002_seen", class: ConsumerTables }],
  async build({ consumers, outbox }) {
    consumers.add({
      durable: "kit-consumer-app-created",
      def: AppCreated,
      async handle(message, ctx) {
        return outbox.sqlTransaction(ctx.correlationId, async (tx) => {
          if (!(await tx.claim("kit-consumer-app-created", message.id))) return "duplicate";
          await tx.sql.query(`insert into kit_consumer.seen (app_id, name, message_id) values ($1, $2, $3)`, [
            message.data.appId,
            message.data.name,
            message.id,
          ]);
          return "done";
        });
      },
    });
    return {};
  },
};

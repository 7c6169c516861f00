import { Option, type Command } from "commander";
import type { z } from "zod";
import {
  CreateNotificationRequest,
  NotificationDeliveryStatus,
  NotificationEventType,
} from "@procode/contracts";
import { CliError, EXIT, unwrap, type ApiClient } from "./client.js";
import { bold, dim, green, table } from "./render.js";

/** What the notification commands borrow from the program (main.ts). */
export interface CommandKit {
  api(): ApiClient;
  out<T>(data: T, human: (d: T) => string): void;
  parse<S extends z.ZodType>(schema: S, value: unknown, flag: string): z.output<S>;
  positiveInt(v: string, flag: string): number;
  listed<T>(
    flags: { page?: string; pageSize?: string },
    fetchPage: (page: number, pageSize: number) => Promise<{ items: T[]; total: number }>,
  ): Promise<{ items: T[]; total: number }>;
  pageOptions(cmd: Command): Command;
  footer(shown: number, total: number): string;
  examples(cmd: Command, lines: string[]): Command;
}

const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value.split(",").map((v) => v.trim()),
];

/** `procode notification add|list|delete|deliveries` (docs/cli.md). */
export function addNotificationCommands(program: Command, k: CommandKit): void {
  const cmd = program
    .command("notification")
    .description("an app's notification subscriptions (signed webhooks) and their delivery log");

  k.examples(
    cmd
      .command("add <appId>")
      .description(
        "subscribe a URL to an app's events (POST /apps/{id}/notifications); prints the secret once",
      )
      .requiredOption("--url <url>", "where deliveries are POSTed (https)")
      .addOption(
        new Option(
          "--event <type>",
          `an event type, repeatable or comma-separated: ${NotificationEventType.options.join(", ")}`,
        )
          .argParser(collect)
          .default([])
          .makeOptionMandatory(),
      )
      .option("--secret-env <var>", "use the whsec_ secret in this environment variable (default: generated)")
      .action(async (appId: string, o: { url: string; event: string[]; secretEnv?: string }) => {
        const secret = o.secretEnv ? process.env[o.secretEnv] : undefined;
        if (o.secretEnv && !secret) throw new CliError(`$${o.secretEnv} is not set`, EXIT.USAGE);
        const body = k.parse(
          CreateNotificationRequest,
          { url: o.url, eventTypes: o.event, ...(secret ? { secret } : {}) },
          "--url/--event/--secret-env",
        );
        const id = k.positiveInt(appId, "appId");
        const n = await unwrap(k.api().POST("/apps/{id}/notifications", { params: { path: { id } }, body }));
        k.out(n, (d) =>
          [
            `${green("created")} notification ${d.id} for app ${d.appId}: ${d.url} (${d.eventTypes.join(", ")})`,
            `secret ${bold(d.secret)}`,
            dim("keep the secret now: it is not shown again; receivers verify webhook-signature with it"),
          ].join("\n"),
        );
      }),
    [
      "procode notification add 1 --url https://hooks.example.com/procode --event pipeline.failed --event deployment.succeeded",
      "WEBHOOK_SECRET=whsec_... procode notification add 1 --url https://hooks.example.com/x --event pipeline.started,pipeline.succeeded --secret-env WEBHOOK_SECRET",
    ],
  );

  k.examples(
    k
      .pageOptions(
        cmd.command("list <appId>").description("list an app's subscriptions (GET /apps/{id}/notifications)"),
      )
      .action(async (appId: string, o: { page?: string; pageSize?: string }) => {
        const id = k.positiveInt(appId, "appId");
        const client = k.api();
        const list = await k.listed(o, (page, pageSize) =>
          unwrap(
            client.GET("/apps/{id}/notifications", { params: { path: { id }, query: { page, pageSize } } }),
          ),
        );
        k.out(list, (l) =>
          [
            table(
              ["ID", "URL", "EVENTS", "CREATED"],
              l.items.map((n) => [n.id, n.url, n.eventTypes.join(","), n.createdAt]),
            ),
            k.footer(l.items.length, l.total),
          ].join("\n"),
        );
      }),
    ["procode notification list 1", "procode notification list 1 --json"],
  );

  k.examples(
    cmd
      .command("delete <appId> <subscriptionId>")
      .description(
        "delete a subscription and its delivery log (DELETE /apps/{id}/notifications/{subscriptionId})",
      )
      .action(async (appId: string, subscriptionId: string) => {
        const path = {
          id: k.positiveInt(appId, "appId"),
          subscriptionId: k.positiveInt(subscriptionId, "subscriptionId"),
        };
        const d = await unwrap(
          k.api().DELETE("/apps/{id}/notifications/{subscriptionId}", { params: { path } }),
        );
        k.out(d, (x) => `${green("deleted")} notification ${x.id}`);
      }),
    ["procode notification delete 1 7"],
  );

  k.examples(
    k
      .pageOptions(
        cmd
          .command("deliveries <appId> <subscriptionId>")
          .description("a subscription's delivery log, newest first (GET .../deliveries)")
          .addOption(
            new Option("--status <status>", "only these").choices(NotificationDeliveryStatus.options),
          ),
      )
      .action(
        async (
          appId: string,
          subscriptionId: string,
          o: { page?: string; pageSize?: string; status?: string },
        ) => {
          const path = {
            id: k.positiveInt(appId, "appId"),
            subscriptionId: k.positiveInt(subscriptionId, "subscriptionId"),
          };
          const status = o.status ? k.parse(NotificationDeliveryStatus, o.status, "--status") : undefined;
          const client = k.api();
          const list = await k.listed(o, (page, pageSize) =>
            unwrap(
              client.GET("/apps/{id}/notifications/{subscriptionId}/deliveries", {
                params: { path, query: { page, pageSize, ...(status ? { status } : {}) } },
              }),
            ),
          );
          k.out(list, (l) =>
            [
              table(
                ["WEBHOOK-ID", "EVENT", "STATUS", "ATTEMPTS", "LAST", "NEXT", "DELIVERED"],
                l.items.map((d) => [
                  d.id,
                  d.eventType,
                  d.status,
                  d.attempts,
                  d.lastError ?? d.lastStatusCode,
                  d.nextAttemptAt,
                  d.deliveredAt,
                ]),
              ),
              k.footer(l.items.length, l.total),
            ].join("\n"),
          );
        },
      ),
    ["procode notification deliveries 1 7", "procode notification deliveries 1 7 --status FAILED --json"],
  );
}

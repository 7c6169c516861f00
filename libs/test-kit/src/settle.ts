import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { sql } from "./infra.js";
import { eventually } from "./wait.js";

/**
 * Positive completion signals for "nothing else happens" checks. A test never proves that a
 * duplicate, stale or late message changed nothing by sleeping and looking: it waits until the
 * consumer reports the message handled (`duplicate` or `ignored`), until a row records the work,
 * or until a sentinel published after the message under test has arrived. See docs/testing.md.
 */

/** A service's metrics as the kit builds them (`deps.metrics`), or the URL of its `/metrics`. */
export type MetricsSource =
  | string
  | {
      messagesHandled: {
        get(): Promise<{ values: { labels: Record<string, string | number | undefined>; value: number }[] }>;
      };
    };

/** How many messages `consumer` acknowledged with `result` (ack, duplicate, ignored, term, nak). */
async function handledCount(source: MetricsSource, consumer: string, result: string): Promise<number> {
  if (typeof source !== "string") {
    const m = await source.messagesHandled.get();
    return m.values
      .filter((v) => v.labels["consumer"] === consumer && v.labels["result"] === result)
      .reduce((n, v) => n + v.value, 0);
  }
  const text = await (await fetch(`${source.replace(/\/$/, "")}/metrics`)).text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("messages_handled_total{")) continue;
    if (line.includes(`consumer="${consumer}"`) && line.includes(`result="${result}"`))
      n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

/**
 * Counts `consumer`'s `result`s now and returns a function that waits until `count` more were
 * handled: take it before publishing the message under test, await it after.
 */
export async function expectHandled(
  source: MetricsSource,
  consumer: string,
  result: string,
  count = 1,
  timeoutMs = 15_000,
): Promise<() => Promise<void>> {
  const before = await handledCount(source, consumer, result);
  return async () => {
    await eventually(
      async () => (await handledCount(source, consumer, result)) >= before + count,
      `${count} message(s) handled as ${result} by ${consumer}`,
      timeoutMs,
    );
  };
}

/** Waits until every row of a service's outbox is published: nothing it committed is still to come. */
export async function outboxDrained(databaseUrl: string, schema: string, timeoutMs = 15_000): Promise<void> {
  await eventually(
    async () =>
      (await sql(databaseUrl, `select 1 from "${schema}".outbox where published_at is null limit 1`))
        .length === 0,
    `every ${schema} outbox row published`,
    timeoutMs,
  );
}

/**
 * Waits until a durable JetStream consumer has every message of its stream delivered and
 * acknowledged (or terminated): nothing pending, nothing in flight. The kit acks only after the
 * handler's transaction committed, so every effect of every message so far is in the database.
 */
export async function consumerIdle(
  natsUrl: string,
  stream: string,
  durable: string,
  timeoutMs = 15_000,
): Promise<void> {
  const nc = await connect({ servers: natsUrl, timeout: 3000 });
  try {
    const jsm = await jetstreamManager(nc);
    await eventually(
      async () => {
        const info = await jsm.consumers.info(stream, durable);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      `consumer ${durable} of ${stream} to have handled every message`,
      timeoutMs,
    );
  } finally {
    await nc.close();
  }
}

/**
 * Every message a stream holds now whose subject starts with `prefix`, in order, parsed as JSON:
 * what was published, counted where duplicates are visible (core subscribers may see a re-publish
 * JetStream dropped).
 */
export async function streamMessages<T = { id: string; type: string; data: Record<string, unknown> }>(
  natsUrl: string,
  stream: string,
  prefix = "",
): Promise<{ subject: string; message: T }[]> {
  const nc = await connect({ servers: natsUrl, timeout: 3000 });
  try {
    // An ordered consumer over the whole stream (a subject filter list needs nats-server 2.10).
    const consumer = await jetstream(nc).consumers.get(stream);
    const pending = (await consumer.info()).num_pending;
    const out: { subject: string; message: T }[] = [];
    if (pending === 0) return out;
    let seen = 0;
    for await (const m of await consumer.fetch({ max_messages: pending, expires: 5000 })) {
      if (m.subject.startsWith(prefix)) out.push({ subject: m.subject, message: m.json<T>() });
      if (++seen >= pending) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

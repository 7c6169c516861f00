import { describe, expect, it } from "vitest";
import { readEventStream, type SseItem } from "../src/sse.js";

/** A body delivered in the given chunks. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>): Promise<SseItem[]> {
  const out: SseItem[] = [];
  for await (const item of readEventStream(stream)) out.push(item);
  return out;
}

describe("reading Server-Sent Events", () => {
  it("dispatches events with their name, data and id, across chunk boundaries and line endings", async () => {
    const items = await all(
      body(
        "retry: 2000\n\nid: 7\nevent: pipe",
        'line\ndata: {"a":',
        "1}\n\r\n: heartbeat\r\n",
        "data: x\ndata: y\n\n",
      ),
    );
    expect(items).toEqual([
      { kind: "event", event: "pipeline", data: '{"a":1}', id: "7" },
      { kind: "comment", text: "heartbeat" },
      { kind: "event", event: "message", data: "x\ny", id: "7" },
    ]);
  });

  it("drops an event cut off before its blank line", async () => {
    expect(await all(body("event: pipeline\ndata: {}\n"))).toEqual([]);
  });
});

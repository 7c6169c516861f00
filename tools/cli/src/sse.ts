/**
 * A reader of Server-Sent Events over fetch (the WHATWG "text/event-stream" format), so a client can
 * send the Authorization header that a browser's EventSource cannot. `GET /events` (docs/api.md,
 * "Live events") is read with it by `procode pipeline watch` and `logs --follow`.
 */

/** One dispatched event, or a comment line (the stream's heartbeat). */
export type SseItem =
  { kind: "event"; event: string; data: string; id: string | null } | { kind: "comment"; text: string };

/** Items of an event stream's body, as they arrive. */
export async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | null = null;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (data.length) yield { kind: "event", event: event || "message", data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) {
          yield { kind: "comment", text: line.slice(1).trim() };
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

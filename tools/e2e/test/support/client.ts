import { createHmac, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

/** An answer of the platform: HTTP status, the envelope's fields, and the body as text. */
export interface Answer<T = unknown> {
  status: number;
  code: number;
  message: string;
  data: T;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string (then as is, with a JSON content type). */
  body?: unknown;
}

/** Calls the gateway (or a service) over HTTP; the answer must be the envelope, whatever the status. */
export async function call<T = unknown>(
  base: string,
  method: string,
  url: string,
  opts: CallOptions = {},
): Promise<Answer<T>> {
  const hasBody = opts.body !== undefined;
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(hasBody ? { "content-type": "application/json" } : {}),
      ...opts.headers,
    },
    ...(hasBody ? { body: typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body) } : {}),
  });
  // An event stream that was accepted stays open: only its status and headers are the answer.
  const isStream = res.ok && (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
  if (isStream) await res.body?.cancel();
  const text = isStream ? "" : await res.text();
  let env: { code?: unknown; message?: unknown; data?: unknown } = {};
  try {
    env = JSON.parse(text) as typeof env;
  } catch {
    // Checked by the caller through isEnvelope.
  }
  return {
    status: res.status,
    code: typeof env.code === "number" ? env.code : NaN,
    message: typeof env.message === "string" ? env.message : "",
    data: env.data as T,
    text,
    headers: res.headers,
  };
}

/** A call that must succeed (code 0): its data; anything else throws with the status, code and message. */
export async function ok<T = unknown>(
  base: string,
  token: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const r = await call<T>(base, method, url, { token, ...(body === undefined ? {} : { body }) });
  if (r.code !== 0) throw new Error(`${method} ${url}: ${r.status} ${r.code} ${r.message}`);
  return r.data;
}

/** Whether a body is `{code, message, data}` with a numeric code and a message. */
export function isEnvelope(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    return typeof v["code"] === "number" && typeof v["message"] === "string" && "data" in v;
  } catch {
    return false;
  }
}

/** A JWT with the given header and claims, signed by `signWith` over `<header>.<claims>`. */
export function jwt(header: object, claims: object, signWith: (input: string) => string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${signWith(input)}`;
}

export const hs256 = (secret: string) => (input: string) =>
  createHmac("sha256", secret).update(input).digest("base64url");

/** An HS256 token with exactly these claims (no defaults: a test decides whether `exp` is there). */
export function tokenWith(secret: string, claims: Record<string, unknown>): string {
  return jwt({ alg: "HS256", typ: "JWT" }, claims, hs256(secret));
}

/** The webhook secret the LOCAL provider installed for an app (`<git dir>/procode-hooks/<id>.json`). */
export function localWebhookSecret(gitDir: string, appId: number): string {
  const dir = path.join(gitDir, "procode-hooks");
  for (const file of readdirSync(dir)) {
    const hook = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as { url: string; secret: string };
    if (hook.url.endsWith(`/webhooks/local/${appId}`)) return hook.secret;
  }
  throw new Error(`no LOCAL webhook installed for app ${appId} in ${gitDir}`);
}

/**
 * A LOCAL push delivery as the post-receive hook sends it: the raw body (with the timestamp and
 * delivery id it repeats) and its signed headers. `raw` is spliced into the JSON as written, so a
 * test can send text JSON.stringify would never produce (an unpaired surrogate escape).
 */
export function localDelivery(
  secret: string,
  fields: Record<string, unknown>,
  raw = "",
): { body: string; headers: Record<string, string> } {
  const timestamp = Math.floor(Date.now() / 1000);
  const deliveryId = randomUUID();
  const json = JSON.stringify({ ...fields, timestamp, deliveryId });
  const body = raw ? `${json.slice(0, -1)},${raw}}` : json;
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-procode-event": "push",
      "x-procode-delivery": deliveryId,
      "x-procode-timestamp": String(timestamp),
      "x-procode-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
  };
}

/** The ops module's callback signature over `<timestamp>.<raw body>`. */
export function opsCallbackHeaders(secret: string, body: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    "content-type": "application/json",
    "x-ops-timestamp": ts,
    "x-ops-signature": `sha256=${createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex")}`,
  };
}

/** What came back on a raw connection: the bytes read and whether the server closed it (first). */
export interface RawExchange {
  text: string;
  closed: boolean;
}

/**
 * Writes `chunks` on one TCP connection (each after the previous one was written) and reads until
 * the server closes it, `untilMs` passes or `enough` says what was read is all that is needed: for
 * what fetch cannot send (absolute-form targets, pipelined requests, oversized heads).
 */
export function rawExchange(
  url: string,
  chunks: (string | Buffer)[],
  untilMs = 5000,
  enough: (text: string) => boolean = () => false,
): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let text = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), untilMs);
    socket.on("data", (d) => {
      text += d.toString("latin1");
      if (enough(text)) finish(false);
    });
    socket.on("error", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("connect", () => {
      void (async () => {
        for (const c of chunks) {
          if (socket.destroyed) return;
          await new Promise<void>((r) => socket.write(c, () => r()));
        }
      })();
    });
  });
}

/** The responses in a raw exchange: status and parsed body of each, in order. */
export function responsesIn(text: string): { status: number; headers: string; body: string }[] {
  const out: { status: number; headers: string; body: string }[] = [];
  let rest = text;
  for (;;) {
    const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(rest);
    if (!m) return out;
    const head = m[2]!;
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const start = m[0].length;
    out.push({ status: Number(m[1]), headers: head, body: rest.slice(start, start + length) });
    rest = rest.slice(start + length);
  }
}

import http from "node:http";
import type net from "node:net";
import { Webhook } from "standardwebhooks";

/** One request the receiver got, as it got it. */
export interface ReceivedWebhook {
  path: string;
  id: string;
  timestamp: string;
  /** The parsed body when the signature verified with the path's secret; null when it did not. */
  verified: unknown;
  /** What the receiver answered: an HTTP status, or "reset" (connection closed, no answer). */
  answer: number | "reset";
}

/** How the receiver answers a request: a status, a redirect, no answer (reset), or silence. */
export type ReceiverAnswer = number | "reset" | "hang";

/**
 * A notification receiver as people run one: an HTTP server on 127.0.0.1 that verifies each
 * delivery's Standard Webhooks signature with the `standardwebhooks` library, with the secret given
 * for the request's path. A test decides how it answers (`answerWith`): 2xx, 5xx, a reset
 * connection (the receiver is down), a redirect, or no answer at all.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly secrets = new Map<string, string>();
  private answer: (path: string) => ReceiverAnswer = () => 204;
  private readonly sockets = new Set<net.Socket>();
  private server: http.Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(chunks).toString("utf8")));
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The URL of a path on this receiver. */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Verifies what arrives on `path` with `secret` (a subscription's whsec_ secret). */
  verifyWith(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  answerWith(answer: ReceiverAnswer | ((path: string) => ReceiverAnswer)): void {
    this.answer = typeof answer === "function" ? answer : () => answer;
  }

  /** Verified deliveries a 2xx answered, on `path`. */
  delivered(path: string): ReceivedWebhook[] {
    return this.received.filter(
      (r) => r.path === path && r.verified !== null && typeof r.answer === "number" && r.answer < 300,
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const path = req.url ?? "/";
    const headers = {
      "webhook-id": String(req.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
    };
    let verified: unknown = null;
    const secret = this.secrets.get(path);
    if (secret) {
      try {
        verified = new Webhook(secret).verify(body, headers);
      } catch {
        verified = null;
      }
    }
    const answer = this.answer(path);
    if (answer === "hang") return; // never answers; the sender's timeout ends it
    this.received.push({
      path,
      id: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"],
      verified,
      answer,
    });
    if (answer === "reset") {
      req.socket.destroy();
      return;
    }
    if (answer >= 300 && answer < 400) res.setHeader("location", this.url("/elsewhere"));
    res.statusCode = answer;
    res.end();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

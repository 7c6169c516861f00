import { lookup as dnsLookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, request, type Dispatcher } from "undici";

/**
 * Outbound requests to user-supplied URLs (SPEC 5, issue: SSRF). Only https (http when allowed by
 * configuration); never loopback, private, link-local, metadata or other special addresses unless
 * the host is allowlisted; the check happens when the socket connects (no DNS rebinding), and
 * every redirect hop is checked again.
 */
export interface UrlPolicy {
  allowHttp: boolean;
  /** Hosts (`host` or `host:port`) that may resolve to private addresses (tests, local emulators). */
  allowHosts: string[];
}

export class UrlRefusedError extends Error {
  override name = "UrlRefusedError";
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["::ffff:0:0", 96],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True when an address is loopback, private, link-local (metadata), multicast or reserved. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1]!, "ipv4");
    return blocked.check(address, "ipv6");
  }
  return true;
}

function hostAllowed(url: URL, policy: UrlPolicy): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return policy.allowHosts.some((h) => {
    const entry = h.trim().toLowerCase();
    return entry === host || entry === `${host}:${port}`;
  });
}

/**
 * Checks a URL before any connection: scheme, credentials in the URL, and literal addresses.
 * Returns the parsed URL; throws UrlRefusedError naming the reason.
 */
export function checkOutboundUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError("is not a valid URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw new UrlRefusedError(
      url.protocol === "http:"
        ? "http is not allowed here; use https"
        : `scheme ${url.protocol} is not allowed; use https`,
    );
  }
  if (url.username || url.password)
    throw new UrlRefusedError("must not carry credentials; use a credential instead");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) && isBlockedAddress(host) && !hostAllowed(url, policy)) {
    throw new UrlRefusedError(`address ${host} is private, loopback, link-local or reserved`);
  }
  if (/^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i.test(host) && !hostAllowed(url, policy)) {
    throw new UrlRefusedError(`host ${host} is internal`);
  }
  return url;
}

/** A DNS lookup that refuses blocked addresses at connect time (unless the host is allowlisted). */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const list = addresses as unknown as { address: string; family: number }[];
      const usable = allowPrivate ? list : list.filter((a) => !isBlockedAddress(a.address));
      if (usable.length === 0) {
        return callback(
          new UrlRefusedError(`${hostname} resolves only to private or reserved addresses`),
          "",
          0,
        );
      }
      if ((options as { all?: boolean }).all) return (callback as any)(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

const agents = new Map<string, Agent>();
function agentFor(allowPrivate: boolean, timeoutMs: number): Agent {
  const key = `${allowPrivate}:${timeoutMs}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({
      connect: { lookup: guardedLookup(allowPrivate), timeout: timeoutMs },
      connections: 16,
    });
    agents.set(key, agent);
  }
  return agent;
}

export interface GuardedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The URL that answered, after redirects. */
  url: string;
}

/**
 * GET/POST to a user-supplied URL under the policy, with a total timeout and at most
 * `maxRedirects` redirects, each checked again. The body is read up to `maxBodyBytes`.
 */
export async function guardedRequest(
  raw: string,
  policy: UrlPolicy,
  opts: {
    method?: "GET" | "POST" | "HEAD";
    headers?: Record<string, string>;
    body?: string;
    timeoutMs?: number;
    maxRedirects?: number;
    maxBodyBytes?: number;
  } = {},
): Promise<GuardedResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const deadline = AbortSignal.timeout(timeoutMs);
  let url = checkOutboundUrl(raw, policy);
  for (let hop = 0; ; hop++) {
    const dispatcher: Dispatcher = agentFor(hostAllowed(url, policy), timeoutMs);
    const res = await request(url, {
      method: opts.method ?? "GET",
      headers: { "user-agent": "procode/1 (+repository probe)", ...opts.headers },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      dispatcher,
      signal: deadline,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const location = res.headers["location"];
    if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === "string") {
      await res.body.dump();
      if (hop >= (opts.maxRedirects ?? 3)) throw new UrlRefusedError("too many redirects");
      url = checkOutboundUrl(new URL(location, url).toString(), policy);
      continue;
    }
    const limit = opts.maxBodyBytes ?? 256 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > limit) break;
      chunks.push(chunk as Buffer);
    }
    if (size > limit) res.body.destroy();
    return {
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.concat(chunks).toString("utf8"),
      url: url.toString(),
    };
  }
}

import { lookup as dnsLookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, request, type Dispatcher } from "undici";

/**
 * Outbound requests to user-supplied URLs (guarded against SSRF). Only https (http when allowed by
 * configuration); never loopback, private, link-local, metadata or other special addresses unless
 * the host is allowlisted; the check happens when the socket connects (no DNS rebinding), and
 * every redirect hop is checked again.
 */
export interface UrlPolicy {
  allowHttp: boolean;
  /** Hosts (`host` or `host:port`) that may resolve to private addresses (tests, local emulators). */
  allowHosts: string[];
  /** Where host names are looked up at connect time; the system resolver unless set. */
  resolve?: HostResolver;
}

/** Every address a host name resolves to. */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export class UrlRefusedError extends Error {
  override name = "UrlRefusedError";
}

// Two lists: node's BlockList also matches an IPv4 address against IPv6 rules through its mapped
// form, so a rule for ::ffff:0:0/96 in one list would block every IPv4 address there is.
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
const blocked6 = new BlockList();
for (const [net, prefix] of [
  // IPv4-compatible (deprecated), with :: and ::1 in it.
  ["::", 96],
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48],
  ["100::", 64],
  // Teredo: the IPv4 address inside is obfuscated, so none is trusted.
  ["2001::", 32],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  blocked6.addSubnet(net, prefix, "ipv6");
}

/** The eight 16-bit groups of an IPv6 address (a zone id and a dotted IPv4 tail are understood). */
function ipv6Groups(address: string): number[] {
  let a = address.split("%")[0]!.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (dotted) {
    const [b1, b2, b3, b4] = dotted.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, dotted.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head = "", tail] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array<string>(fill).fill("0"), ...t].map((g) => parseInt(g, 16));
}

const ipv4Of = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:127.0.0.1`, also written
 * `::ffff:7f00:1`) and 6to4 (`2002:7f00:1::`). Those are judged by the IPv4 rules.
 */
function embeddedIpv4(address: string): string | null {
  const g = ipv6Groups(address);
  if (g.length !== 8 || g.some((x) => Number.isNaN(x))) return null;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return ipv4Of(g[1]!, g[2]!);
  return null;
}

/** True when an address is loopback, private, link-local (metadata), multicast or reserved. */
export function isBlockedAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, "");
  const family = isIP(host.split("%")[0]!);
  if (family === 4) return blocked.check(host, "ipv4");
  if (family === 6) {
    const v4 = embeddedIpv4(host);
    if (v4 !== null) return blocked.check(v4, "ipv4");
    return blocked6.check(host.split("%")[0]!, "ipv6");
  }
  return true;
}

/** A URL's host as the rules read it: no brackets, no trailing dot (`localhost.` is `localhost`). */
function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "")
    .toLowerCase();
}

/** Whether a URL's host (or host:port) is on the policy's allowlist. */
function isHostAllowed(url: URL, policy: UrlPolicy): boolean {
  const host = hostOf(url);
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
  const host = hostOf(url);
  if (isIP(host) && isBlockedAddress(host) && !isHostAllowed(url, policy)) {
    throw new UrlRefusedError(`address ${host} is private, loopback, link-local or reserved`);
  }
  if (/^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i.test(host) && !isHostAllowed(url, policy)) {
    throw new UrlRefusedError(`host ${host} is internal`);
  }
  return url;
}

const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/**
 * `checkOutboundUrl`, and the host name looked up now: a name that resolves only to blocked
 * addresses (unless allowlisted), or not at all, is refused. For targets kept for later use (a
 * notification subscription); every request is still checked again when its socket connects.
 */
export async function checkOutboundTarget(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = checkOutboundUrl(raw, policy);
  const host = hostOf(url);
  if (isIP(host) || isHostAllowed(url, policy)) return url;
  let addresses: { address: string }[];
  try {
    addresses = await (policy.resolve ?? systemResolver)(host);
  } catch {
    throw new UrlRefusedError(`host ${host} does not resolve`);
  }
  if (!addresses.some((a) => !isBlockedAddress(a.address))) {
    throw new UrlRefusedError(`${host} resolves only to private or reserved addresses`);
  }
  return url;
}

/**
 * A DNS lookup for a socket's `connect` that refuses blocked addresses at connect time (unless the
 * host is allowlisted: `allowPrivate`), so a name cannot resolve to one thing when checked and to
 * another when used.
 */
function guardedLookup(allowPrivate: boolean, resolve: HostResolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = (options as { family?: number }).family;
    resolve(hostname).then(
      (all) => {
        const list = family === 4 || family === 6 ? all.filter((a) => a.family === family) : all;
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
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };
}

/** Connections to URLs under a policy: one pool that checks addresses, one for allowlisted hosts. */
export interface GuardedDispatcher {
  /** The dispatcher for a URL that passed `checkOutboundUrl`. */
  for(url: URL): Dispatcher;
  close(): Promise<void>;
}

/**
 * undici dispatchers that refuse blocked addresses when the socket connects (so DNS rebinding cannot
 * slip through), except for allowlisted hosts; each pools up to `connections` connections.
 */
export function createGuardedDispatcher(
  policy: UrlPolicy,
  opts: { timeoutMs: number; connections: number },
): GuardedDispatcher {
  const resolve = policy.resolve ?? systemResolver;
  const agent = (allowPrivate: boolean) =>
    new Agent({
      connect: { lookup: guardedLookup(allowPrivate, resolve), timeout: opts.timeoutMs },
      connections: opts.connections,
    });
  const guarded = agent(false);
  const open = agent(true);
  return {
    for: (url) => (isHostAllowed(url, policy) ? open : guarded),
    close: async () => {
      await Promise.allSettled([guarded.close(), open.close()]);
    },
  };
}

/** The dispatchers of `guardedRequest`, one set per resolver, allowlist and timeout, kept for the process. */
const dispatchers = new WeakMap<HostResolver, Map<string, GuardedDispatcher>>();
function dispatcherFor(url: URL, policy: UrlPolicy, timeoutMs: number): Dispatcher {
  const resolve = policy.resolve ?? systemResolver;
  let byKey = dispatchers.get(resolve);
  if (!byKey) dispatchers.set(resolve, (byKey = new Map()));
  const key = JSON.stringify([policy.allowHosts, timeoutMs]);
  let d = byKey.get(key);
  if (!d) {
    d = createGuardedDispatcher(policy, { timeoutMs, connections: 16 });
    byKey.set(key, d);
  }
  return d.for(url);
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
    /** false: a redirect is the answer (its status and headers), not followed. */
    followRedirects?: boolean;
    maxBodyBytes?: number;
  } = {},
): Promise<GuardedResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const deadline = AbortSignal.timeout(timeoutMs);
  let url = checkOutboundUrl(raw, policy);
  for (let hop = 0; ; hop++) {
    const dispatcher = dispatcherFor(url, policy, timeoutMs);
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
    const follow = opts.followRedirects ?? true;
    if (follow && res.statusCode >= 300 && res.statusCode < 400 && typeof location === "string") {
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

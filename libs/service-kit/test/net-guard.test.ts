import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkOutboundUrl,
  guardedRequest,
  isBlockedAddress,
  UrlRefusedError,
  type HostResolver,
  type UrlPolicy,
} from "../src/index.js";

const open: UrlPolicy = { allowHttp: true, allowHosts: [] };

/** What checkOutboundUrl makes of a URL: "ok" or the reason it refused. */
function verdict(url: string, policy: UrlPolicy = open): string {
  try {
    checkOutboundUrl(url, policy);
    return "ok";
  } catch (err) {
    if (err instanceof UrlRefusedError) return err.message;
    throw err;
  }
}

describe("the SSRF guard's address rules", () => {
  it.each([
    // loopback, unspecified, RFC 1918, CGNAT, link-local (cloud metadata), multicast, reserved
    ["127.0.0.1", true],
    ["127.255.255.254", true],
    ["0.0.0.0", true],
    ["10.0.0.1", true],
    ["172.16.0.1", true],
    ["172.31.255.255", true],
    ["192.168.1.1", true],
    ["100.64.0.1", true],
    ["100.127.255.255", true],
    ["169.254.169.254", true],
    ["192.0.0.8", true],
    ["198.18.0.1", true],
    ["224.0.0.1", true],
    ["255.255.255.255", true],
    // just outside those ranges
    ["172.15.255.255", false],
    ["172.32.0.1", false],
    ["100.63.255.255", false],
    ["100.128.0.1", false],
    ["192.169.0.1", false],
    ["8.8.8.8", false],
    ["93.184.216.34", false],
    // IPv6: loopback, unspecified, unique-local, link-local, site-local, multicast, documentation
    ["::1", true],
    ["::", true],
    ["fc00::1", true],
    ["fd12:3456::1", true],
    ["fe80::1", true],
    ["fe80::1%eth0", true],
    ["fec0::1", true],
    ["ff02::1", true],
    ["2001:db8::1", true],
    ["2606:4700:4700::1111", false],
    // IPv4 inside IPv6: mapped in both notations, IPv4-compatible, NAT64, 6to4, Teredo
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:10.0.0.1", true],
    ["::ffff:a9fe:a9fe", true],
    ["::ffff:8.8.8.8", false],
    ["::ffff:808:808", false],
    ["::127.0.0.1", true],
    ["64:ff9b::7f00:1", true],
    ["2002:7f00:1::", true],
    ["2002:c0a8:101::1", true],
    ["2002:808:808::1", false],
    ["2001:0:4136:e378::1", true],
    // not an address at all
    ["localhost", true],
    ["", true],
  ])("%s blocked: %s", (address, expected) => {
    expect(isBlockedAddress(address)).toBe(expected);
  });

  it.each([
    // decimal, octal and hex hosts are IPv4 addresses once parsed
    ["http://2130706433/", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://0177.0.0.1/", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://0x7f.1/", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://0x7f000001/", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://127.1/", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://0/", "address 0.0.0.0 is private, loopback, link-local or reserved"],
    ["http://3232235777/", "address 192.168.1.1 is private, loopback, link-local or reserved"],
    ["http://0xa9.0xfe.0xa9.0xfe/", "address 169.254.169.254 is private, loopback, link-local or reserved"],
    // trailing dots
    ["http://127.0.0.1./", "address 127.0.0.1 is private, loopback, link-local or reserved"],
    ["http://localhost./", "host localhost is internal"],
    ["http://localhost../", "host localhost is internal"],
    ["http://api.localhost./", "host api.localhost is internal"],
    ["http://metadata.google.internal./", "host metadata.google.internal is internal"],
    // IPv6 literals, IPv4-mapped in both notations
    ["http://[::1]/", "address ::1 is private, loopback, link-local or reserved"],
    ["http://[::ffff:127.0.0.1]/", "address ::ffff:7f00:1 is private, loopback, link-local or reserved"],
    ["http://[::ffff:7f00:1]/", "address ::ffff:7f00:1 is private, loopback, link-local or reserved"],
    [
      "http://[::ffff:169.254.169.254]:80/",
      "address ::ffff:a9fe:a9fe is private, loopback, link-local or reserved",
    ],
    ["http://[fd00::1]/", "address fd00::1 is private, loopback, link-local or reserved"],
    // public addresses and names pass this check (names are checked again at connect time)
    ["http://8.8.8.8/", "ok"],
    ["http://134744072/", "ok"],
    ["http://[::ffff:8.8.8.8]/", "ok"],
    ["https://[2606:4700:4700::1111]/", "ok"],
    ["https://gitlab.example.com./group/app.git", "ok"],
  ])("%s -> %s", (url, expected) => {
    expect(verdict(url)).toBe(expected);
  });

  it("lets an allowlisted host through, with or without its port and trailing dot", () => {
    expect(verdict("http://127.0.0.1:8929/", { allowHttp: true, allowHosts: ["127.0.0.1:8929"] })).toBe("ok");
    expect(verdict("http://127.0.0.1:8930/", { allowHttp: true, allowHosts: ["127.0.0.1:8929"] })).toBe(
      "address 127.0.0.1 is private, loopback, link-local or reserved",
    );
    expect(verdict("http://gitlab.internal./", { allowHttp: true, allowHosts: ["gitlab.internal"] })).toBe(
      "ok",
    );
  });

  it("refuses other schemes, plain http unless allowed, and credentials in the URL", () => {
    expect(verdict("http://8.8.8.8/", { allowHttp: false, allowHosts: [] })).toBe(
      "http is not allowed here; use https",
    );
    expect(verdict("file:///etc/passwd")).toBe("scheme file: is not allowed; use https");
    expect(verdict("https://user:secret@gitlab.example.com/")).toBe(
      "must not carry credentials; use a credential instead",
    );
    expect(verdict("not a url")).toBe("is not a valid URL");
  });
});

describe("names checked at connect time (DNS rebinding)", () => {
  let server: http.Server;
  let port: number;
  let connections = 0;
  // A resolver the test controls: names that pass the URL check but resolve to loopback.
  const names: Record<string, { address: string; family: number }[]> = {
    "rebind.example": [{ address: "127.0.0.1", family: 4 }],
    "both.example": [
      { address: "::1", family: 6 },
      { address: "::ffff:127.0.0.1", family: 6 },
      { address: "127.0.0.1", family: 4 },
    ],
  };
  const resolve: HostResolver = async (hostname) => {
    const found = names[hostname.replace(/\.$/, "")];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return found;
  };

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end("reached"));
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it.each(["rebind.example", "both.example", "rebind.example."])(
    "refuses %s, which resolves only to loopback, without connecting",
    async (host) => {
      const before = connections;
      const refused = await guardedRequest(`http://${host}:${port}/`, { ...open, resolve }).catch((e) => e);
      expect(refused).toBeInstanceOf(Error);
      let cause: unknown = refused;
      while (cause && !(cause instanceof UrlRefusedError)) cause = (cause as { cause?: unknown }).cause;
      expect((cause as Error).message).toBe(`${host} resolves only to private or reserved addresses`);
      expect(connections).toBe(before);
    },
  );

  it("connects to the same name when it is allowlisted: the resolver is the one asked", async () => {
    const res = await guardedRequest(`http://rebind.example:${port}/`, {
      allowHttp: true,
      allowHosts: [`rebind.example:${port}`],
      resolve,
    });
    expect(res).toMatchObject({ status: 200, body: "reached" });
  });
});

import net from "node:net";

/**
 * Abuse during the API bench (`--slow-uploads N`): N uploads through the gateway's token-less
 * `/webhooks/` route at one byte every 2 s, each replaced as soon as the gateway cuts it off, so N are
 * open for the whole measurement. Each held one of the 64 connections to dev-svc before the gateway
 * read bodies whole (docs/services/gateway.md, "Under abuse"); what they cost other callers now is
 * what the bench's rows show.
 */
export function holdSlowUploads(
  gatewayUrl: string,
  n: number,
): { stop(): { cutOff: number; answers: Map<string, number> } } {
  const { hostname, port } = new URL(gatewayUrl);
  const answers = new Map<string, number>();
  const open = new Set<net.Socket>();
  let stopping = false;
  let cutOff = 0;
  const start = (i: number) => {
    const socket = net.connect(Number(port), hostname);
    open.add(socket);
    let text = "";
    const drip = setInterval(() => socket.writable && socket.write(" "), 2000);
    socket.on("data", (d) => (text += d.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(drip);
      open.delete(socket);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "none";
      answers.set(status, (answers.get(status) ?? 0) + 1);
      if (stopping) return;
      cutOff++;
      start(i);
    });
    socket.write(
      `POST /webhooks/local/${900_000 + i} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
  };
  for (let i = 0; i < n; i++) start(i);
  return {
    stop() {
      stopping = true;
      for (const s of open) s.destroy();
      return { cutOff, answers };
    },
  };
}

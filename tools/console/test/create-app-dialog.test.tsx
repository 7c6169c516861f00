import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Router } from "wouter";
import { memoryLocation } from "wouter/memory-location";
import type { App, CreateAppBody } from "../src/api/types";
import { LiveContext } from "../src/live/live";
import { noteRepository } from "../src/live/repositories";
import { CreateAppDialog } from "../src/pages/CreateAppDialog";

let nextId = 1000 + Math.floor(Math.random() * 1000);

/** An app as POST /apps answers it (the dialog reads its id and whether it is pro-code). */
const appOf = (id: number, body: CreateAppBody) =>
  ({
    id,
    name: body.name,
    devMode: body.devMode,
    procodeConfig: body.devMode === "pro-code" ? {} : null,
  }) as App;

function setup(opts: {
  live: boolean;
  /** What happens when dev-svc learns of the app, relative to the POST's answer. */
  announce?: "before" | "never";
  readable?: (reads: number) => boolean;
  waitMs?: number;
  devMode?: "pro-code" | "low-code";
}) {
  const appId = nextId++;
  const reads: number[] = [];
  const created: CreateAppBody[] = [];
  const location = memoryLocation({ path: "/", record: true });
  const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
  client.setQueryData(["credentials"], { items: [], total: 0, page: 1, pageSize: 100 });
  render(
    <QueryClientProvider client={client}>
      <LiveContext.Provider value={{ status: opts.live ? "live" : "down", reason: "" }}>
        <Router hook={location.hook}>
          <CreateAppDialog
            onClose={() => undefined}
            create={async (body) => {
              created.push(body);
              if (opts.announce === "before") noteRepository(appId);
              return appOf(appId, body);
            }}
            readRepo={async (id) => {
              reads.push(id);
              return opts.readable?.(reads.length) ?? false;
            }}
            {...(opts.waitMs ? { waitMs: opts.waitMs } : {})}
          />
        </Router>
      </LiveContext.Provider>
    </QueryClientProvider>,
  );
  fireEvent.change(screen.getByLabelText("Name"), { target: { value: "agent" } });
  if (opts.devMode === "low-code") fireEvent.click(screen.getByLabelText("low-code"));
  fireEvent.submit(screen.getByLabelText("Name").closest("form")!);
  return { appId, reads, created, path: () => location.history.at(-1) };
}

const settingUp = () => screen.findByText("Setting up the repository…");

describe("the New app dialog", () => {
  it("waits after POST /apps until the app's repository event, then opens the app page; no repo read while the stream is up", async () => {
    const s = setup({ live: true });
    await settingUp();
    expect(s.created).toHaveLength(1);
    expect(s.path()).toBe("/");
    // Another app's event does not end the wait.
    noteRepository(s.appId + 5000);
    expect(screen.getByRole("status").textContent).toContain("Setting up the repository");
    expect(s.path()).toBe("/");
    noteRepository(s.appId);
    await waitFor(() => expect(s.path()).toBe(`/apps/${s.appId}`));
    expect(s.reads).toEqual([]);
  });

  it("opens the page at once when the event came before the POST's answer", async () => {
    const s = setup({ live: true, announce: "before" });
    await waitFor(() => expect(s.path()).toBe(`/apps/${s.appId}`));
    expect(s.reads).toEqual([]);
  });

  it("while the stream is down, reads the binding until it answers, then opens the page", async () => {
    const s = setup({ live: false, readable: (n) => n >= 3 });
    await settingUp();
    await waitFor(() => expect(s.path()).toBe(`/apps/${s.appId}`), { timeout: 5000 });
    expect(s.reads).toEqual([s.appId, s.appId, s.appId]);
  });

  it("opens the page anyway once the wait is over, without an event", async () => {
    const s = setup({ live: true, waitMs: 300 });
    await settingUp();
    await waitFor(() => expect(s.path()).toBe(`/apps/${s.appId}`), { timeout: 3000 });
    expect(s.reads).toEqual([]);
  });

  it("does not wait for a low-code app, which has no repository", async () => {
    const s = setup({ live: true, devMode: "low-code" });
    await waitFor(() => expect(s.path()).toBe(`/apps/${s.appId}`));
    expect(s.created[0]).toEqual({ name: "agent", devMode: "low-code" });
    expect(screen.queryByText("Setting up the repository…")).toBeNull();
  });
});

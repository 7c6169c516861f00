import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { applyLogEvent, logKey } from "../src/api/logs";
import { LiveContext } from "../src/live/live";
import { LogLines, StageLog, StageLogView } from "../src/pages/StageLog";
import { logEvent, logLine, stageLog } from "./fixtures";

const rows = () => screen.getByTestId("stage-log").querySelectorAll(".log-line");

/**
 * happy-dom lays nothing out: the log box gets the geometry a browser would give it (a 100 px box,
 * 20 px a line), and its scroll position is what the component and the "person" set.
 */
function geometry(box: HTMLElement, lineCount: () => number) {
  let top = 0;
  Object.defineProperty(box, "clientHeight", { configurable: true, get: () => 100 });
  Object.defineProperty(box, "scrollHeight", { configurable: true, get: () => lineCount() * 20 });
  Object.defineProperty(box, "scrollTop", {
    configurable: true,
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, lineCount() * 20 - 100));
    },
  });
}

describe("the stage log", () => {
  it("shows each line with its time, level and text; ERROR lines are marked and counted", () => {
    const lines = [
      logLine(1, "docker build -t agent:v1.0.0 ."),
      logLine(2, "cache miss for layer 3", "WARN"),
      logLine(3, '  File "app.py", line 3\n    def broken(:\n               ^', "ERROR"),
    ];
    render(<LogLines lines={lines} truncated={false} running={false} label="BUILD attempt 1 log" />);
    const log = screen.getByRole("log", { name: "BUILD attempt 1 log" });
    expect([...rows()].map((r) => r.getAttribute("data-level"))).toEqual(["INFO", "WARN", "ERROR"]);
    const error = rows()[2]!;
    expect(error.classList.contains("log-error")).toBe(true);
    expect(within(error as HTMLElement).getByText("ERROR")).toBeTruthy();
    // The text as written: its line breaks and spaces kept.
    expect(error.querySelector(".log-text")!.textContent).toBe(lines[2]!.text);
    expect(rows()[1]!.classList.contains("log-warn")).toBe(true);
    const time = rows()[0]!.querySelector("time")!;
    expect(time.getAttribute("datetime")).toBe(lines[0]!.at);
    expect(time.textContent).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(time.getAttribute("title")).toMatch(/\d\d:\d\d:\d\d\.000$/);
    expect(log.closest(".log")!.textContent).toContain("3 lines · ✖ 1 ERROR");
    expect(screen.queryByTestId("stage-log-truncated")).toBeNull();
  });

  it("follows the end as lines come, stops when the person scrolls up, and follows again when asked", () => {
    let lines = stageLog(3).lines;
    const view = () => <LogLines lines={lines} truncated={false} running label="log" />;
    const { rerender } = render(view());
    const box = screen.getByTestId("stage-log");
    geometry(box, () => lines.length);

    lines = stageLog(10).lines;
    rerender(view());
    expect(box.scrollTop).toBe(100); // the end: 10 lines of 20 px in a 100 px box
    expect(screen.queryByTestId("stage-log-follow")).toBeNull();

    // The person scrolls up to read: new lines no longer move the log.
    box.scrollTop = 20;
    fireEvent.scroll(box);
    lines = stageLog(12).lines;
    rerender(view());
    expect(box.scrollTop).toBe(20);
    expect(rows()).toHaveLength(12);

    // "Follow the log" goes to the end and follows again.
    fireEvent.click(screen.getByTestId("stage-log-follow"));
    expect(box.scrollTop).toBe(140);
    lines = stageLog(15).lines;
    rerender(view());
    expect(box.scrollTop).toBe(200);

    // So does scrolling back down to the end by hand.
    box.scrollTop = 0;
    fireEvent.scroll(box);
    box.scrollTop = 200;
    fireEvent.scroll(box);
    lines = stageLog(16).lines;
    rerender(view());
    expect(box.scrollTop).toBe(220);
    expect(screen.queryByTestId("stage-log-follow")).toBeNull();
  });

  it("says it is loading, shows the API's error with its code, and says what an empty log means", () => {
    const { rerender } = render(<StageLogView state={{ kind: "loading" }} running label="log" />);
    expect(screen.getByRole("status").textContent).toContain("Loading the log");

    const refused = new ApiError(3004, "pipeline 7 not found", 404);
    rerender(<StageLogView state={{ kind: "error", error: refused }} running label="log" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("The log could not be read.");
    expect(alert.textContent).toContain("3004");
    expect(alert.textContent).toContain("pipeline 7 not found");

    rerender(<StageLogView state={{ kind: "ready", log: stageLog(0) }} running label="log" />);
    expect(screen.getByTestId("stage-log-empty").textContent).toContain("as the stage writes them");
    rerender(<StageLogView state={{ kind: "ready", log: stageLog(0) }} running={false} label="log" />);
    expect(screen.getByTestId("stage-log-empty").textContent).toBe("This attempt wrote no log lines.");

    rerender(<StageLogView state={{ kind: "ready", log: stageLog(2, true) }} running={false} label="log" />);
    expect(screen.getByTestId("stage-log-truncated").textContent).toContain("not every line is here");
    expect(rows()).toHaveLength(2);
  });

  it("adds the lines of the stream's log events to the attempt on screen, once each", async () => {
    const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
    client.setQueryData(logKey(7, "BUILD", 1), stageLog(2));
    // Log events come while the stream is up, and then nothing is polled: no read can interleave.
    render(
      <QueryClientProvider client={client}>
        <LiveContext.Provider value={{ status: "live", reason: "" }}>
          <StageLog pipelineId={7} stage="BUILD" attempt={1} running />
        </LiveContext.Provider>
      </QueryClientProvider>,
    );
    expect(rows()).toHaveLength(2);
    await act(() => applyLogEvent(client, logEvent(logLine(3, "pushed agent:v1.0.0"))));
    await act(() => applyLogEvent(client, logEvent(logLine(3, "pushed agent:v1.0.0"))));
    // Another attempt's line and another pipeline's are not this log's.
    await act(() => applyLogEvent(client, logEvent({ ...logLine(4, "attempt 2"), attempt: 2 })));
    await act(() => applyLogEvent(client, logEvent(logLine(4, "elsewhere"), 8)));
    // TanStack Query tells its observers of a change on a zero-delay timer, which act() does not wait
    // for: the page shows the line a moment after the event, not within it.
    await waitFor(() =>
      expect([...rows()].map((r) => r.querySelector(".log-text")!.textContent)).toEqual([
        "line 1",
        "line 2",
        "pushed agent:v1.0.0",
      ]),
    );
    expect(client.getQueryData<{ lines: unknown[] }>(logKey(7, "BUILD", 1))!.lines).toHaveLength(3);
    expect(client.getQueryData(logKey(7, "BUILD", 2))).toBeUndefined();
    expect(client.getQueryData(logKey(8, "BUILD", 1))).toBeUndefined();
  });
});

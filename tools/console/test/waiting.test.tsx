import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { logKey } from "../src/api/logs";
import { NodePanel } from "../src/pages/NodePanel";
import { StageGraph } from "../src/pages/StageGraph";
import type { Pipeline } from "../src/api/types";
import { attempt, pipeline, stageLog } from "./fixtures";

const nodeOf = (stage: string) => screen.getByText(stage, { selector: ".node-stage" }).closest("li")!;
const since = "2026-03-01T10:00:05.000Z";
const builderDown =
  "the image builder at http://127.0.0.1:9 does not answer (3 calls in a row): connect ECONNREFUSED";

/** PACKAGE running, its attempt waiting for the image builder (GET /pipelines/{id} as it answers). */
const waitingForBuilder = pipeline({
  currentStage: "PACKAGE",
  state: "PACKAGE",
  checkpoints: [
    attempt("CODE_CHECK", 1, "SUCCESS", 0, 1),
    attempt("BUILD", 1, "SUCCESS", 1, 2),
    attempt("PACKAGE", 1, "RUNNING", 3, undefined, {
      waiting: { state: "WAITING_OPS", reason: builderDown, since },
    }),
  ],
});

/** PACKAGE's panel, its attempt's log already read (the panel reads it through the query cache). */
function panelOf(p: Pipeline) {
  const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
  client.setQueryData(logKey(p.id, "PACKAGE", 1), stageLog(0));
  render(
    <QueryClientProvider client={client}>
      <NodePanel pipeline={p} stage="PACKAGE" onClose={() => {}} />
    </QueryClientProvider>,
  );
  return screen.getByTestId("node-panel");
}

describe("an attempt waiting for an outside system", () => {
  it("shows on its node what it waits for, why and since when, still running and asking nothing of a person", () => {
    render(<StageGraph pipeline={waitingForBuilder} selected={null} onSelect={() => {}} />);
    const node = nodeOf("PACKAGE");
    expect(node.getAttribute("data-state")).toBe("running");
    expect(node.getAttribute("data-waiting")).toBe("WAITING_OPS");
    const note = within(node).getByTestId("stage-waiting");
    expect(note.textContent).toBe(
      `◆ Waiting for the image builder: ${builderDown} (since ${new Date(since).toLocaleTimeString()})`,
    );
    expect(note.querySelector("time")?.getAttribute("datetime")).toBe(since);
    expect(node.textContent).toContain("●running");
    expect(node.textContent).not.toContain("waiting for a person");
    expect(
      screen.getByRole("button", { name: /^PACKAGE: running, waiting for an outside system/ }),
    ).toBeTruthy();
    // The other nodes wait for nothing.
    expect(within(nodeOf("BUILD")).queryByTestId("stage-waiting")).toBeNull();
    expect(nodeOf("BUILD").hasAttribute("data-waiting")).toBe(false);
  });

  it("says DEPLOY waits for the ops module in place of the bare WAITING_OPS sub-status", () => {
    const deploying = pipeline({
      currentStage: "DEPLOY",
      state: "DEPLOYING",
      deployStatus: "WAITING_OPS",
      checkpoints: [
        ...waitingForBuilder.checkpoints.slice(0, 2),
        attempt("PACKAGE", 1, "SUCCESS", 3, 4),
        attempt("DEPLOY", 1, "RUNNING", 5, undefined, {
          waiting: { state: "WAITING_OPS", reason: "ops module unreachable: 503", since },
        }),
      ],
    });
    render(<StageGraph pipeline={deploying} selected={null} onSelect={() => {}} />);
    const note = within(nodeOf("DEPLOY")).getByTestId("stage-waiting");
    expect(note.textContent).toContain("Waiting for the ops module: ops module unreachable: 503 (since ");
    expect(nodeOf("DEPLOY").querySelector(".node-sub")).toBeNull();
  });

  it("shows the waiting in the stage's detail on the running attempt only, and not once it has ended", () => {
    const note = within(panelOf(waitingForBuilder)).getByTestId("stage-waiting");
    expect(note.textContent).toContain(`Waiting for the image builder: ${builderDown} (since `);
    expect(note.textContent).toContain("goes on by itself");
    // The attempt ended (its result came): a waiting left on a finished attempt is not shown.
    const ended = pipeline({
      ...waitingForBuilder,
      checkpoints: [
        ...waitingForBuilder.checkpoints.slice(0, 2),
        attempt("PACKAGE", 1, "SUCCESS", 3, 9, {
          waiting: { state: "WAITING_OPS", reason: builderDown, since },
        }),
      ],
    });
    cleanup();
    const panel = panelOf(ended);
    expect(within(panel).getByText("Attempt 1")).toBeTruthy();
    expect(within(panel).queryByTestId("stage-waiting")).toBeNull();
  });

  it("shows nothing for a running attempt that waits for nothing", () => {
    const running = pipeline({
      currentStage: "PACKAGE",
      state: "PACKAGE",
      checkpoints: [...waitingForBuilder.checkpoints.slice(0, 2), attempt("PACKAGE", 1, "RUNNING", 3)],
    });
    render(<StageGraph pipeline={running} selected={null} onSelect={() => {}} />);
    expect(screen.queryByTestId("stage-waiting")).toBeNull();
    expect(nodeOf("PACKAGE").hasAttribute("data-waiting")).toBe(false);
  });
});

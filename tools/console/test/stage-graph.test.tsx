import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { StageGraph } from "../src/pages/StageGraph";
import { attempt, pipeline } from "./fixtures";

const nodeOf = (stage: string) => screen.getByText(stage).closest("li")!;

describe("the stage graph", () => {
  it("draws CODE_CHECK → BUILD → PACKAGE → DEPLOY with each stage's state, attempts and duration", () => {
    const p = pipeline({
      currentStage: "BUILD",
      state: "BUILD",
      checkpoints: [
        attempt("CODE_CHECK", 1, "FAILED", 0, 2, { error: "boom" }),
        attempt("CODE_CHECK", 2, "SUCCESS", 4, 7),
        attempt("BUILD", 1, "RUNNING", 8),
      ],
    });
    render(<StageGraph pipeline={p} selected={null} onSelect={() => {}} />);
    const nodes = screen.getAllByRole("listitem");
    expect(nodes.map((n) => n.getAttribute("data-stage"))).toEqual([
      "CODE_CHECK",
      "BUILD",
      "PACKAGE",
      "DEPLOY",
    ]);
    expect(nodes.map((n) => n.getAttribute("data-state"))).toEqual([
      "succeeded",
      "running",
      "pending",
      "pending",
    ]);
    const check = nodeOf("CODE_CHECK");
    expect(check.textContent).toContain("✔succeeded");
    expect(check.textContent).toContain("3s");
    expect(check.textContent).toContain("attempt 2");
    expect(nodeOf("BUILD").textContent).toContain("●running");
    expect(nodeOf("BUILD").textContent).toContain("1 attempt");
    expect(nodeOf("PACKAGE").textContent).toContain("○pending");
  });

  it("shows a failed stage as failed, with the actions that move it on placed on that node only", () => {
    const p = pipeline({
      status: "FAILED",
      state: "FAILED",
      currentStage: "PACKAGE",
      awaiting: { action: "RETRY_OR_RESUME", stage: "PACKAGE", hint: "PACKAGE failed" },
      checkpoints: [
        attempt("CODE_CHECK", 1, "SUCCESS", 0, 1),
        attempt("BUILD", 1, "SUCCESS", 1, 2),
        attempt("PACKAGE", 1, "FAILED", 2, 5, { error: "builder refused" }),
      ],
    });
    render(
      <StageGraph
        pipeline={p}
        selected={null}
        onSelect={() => {}}
        nodeActions={(stage) => (p.awaiting?.stage === stage ? <button type="button">Retry</button> : null)}
      />,
    );
    expect(nodeOf("PACKAGE").getAttribute("data-state")).toBe("failed");
    expect(nodeOf("PACKAGE").textContent).toContain("✖failed");
    expect(within(nodeOf("PACKAGE")).getByRole("button", { name: "Retry" })).toBeTruthy();
    expect(within(nodeOf("BUILD")).queryByRole("button", { name: "Retry" })).toBeNull();
  });

  it("shows a MANUAL gate as waiting for a person and the DEPLOY sub-status while it runs", () => {
    const waiting = pipeline({
      currentStage: "PACKAGE",
      state: "PACKAGE",
      awaiting: { action: "PROCEED", stage: "PACKAGE", hint: "PACKAGE succeeded; proceed" },
      checkpoints: [
        attempt("CODE_CHECK", 1, "SUCCESS", 0, 1),
        attempt("BUILD", 1, "SUCCESS", 1, 2),
        attempt("PACKAGE", 1, "SUCCESS", 2, 3),
      ],
    });
    const { rerender } = render(<StageGraph pipeline={waiting} selected={null} onSelect={() => {}} />);
    expect(nodeOf("PACKAGE").getAttribute("data-state")).toBe("waiting");
    expect(nodeOf("PACKAGE").textContent).toContain("◆waiting for a person");
    const deploying = pipeline({
      currentStage: "DEPLOY",
      state: "DEPLOYING",
      deployStatus: "WAITING_OPS",
      checkpoints: [...waiting.checkpoints, attempt("DEPLOY", 1, "RUNNING", 4)],
    });
    rerender(<StageGraph pipeline={deploying} selected={null} onSelect={() => {}} />);
    expect(nodeOf("PACKAGE").getAttribute("data-state")).toBe("succeeded");
    expect(nodeOf("DEPLOY").textContent).toContain("WAITING_OPS");
  });

  it("selects a stage by click or keyboard and marks the selected node as pressed", () => {
    const chosen: string[] = [];
    const p = pipeline({ checkpoints: [attempt("CODE_CHECK", 1, "RUNNING", 0)] });
    const { rerender } = render(<StageGraph pipeline={p} selected={null} onSelect={(s) => chosen.push(s)} />);
    fireEvent.click(screen.getByRole("button", { name: /^BUILD/ }));
    const deploy = screen.getByRole("button", { name: /^DEPLOY/ });
    deploy.focus();
    expect(document.activeElement).toBe(deploy);
    fireEvent.click(deploy);
    expect(chosen).toEqual(["BUILD", "DEPLOY"]);
    rerender(<StageGraph pipeline={p} selected="DEPLOY" onSelect={() => {}} />);
    expect(screen.getByRole("button", { name: /^DEPLOY/ }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByRole("button", { name: /^BUILD/ }).getAttribute("aria-pressed")).toBe("false");
  });
});

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ComponentProps } from "react";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { ReleaseDialog, type ReleaseResult } from "../src/pages/ReleaseDialog";

const HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const OLD = "0f1e2d3c4b5a69788796a5b4c3d2e1f012345678";

function setup(over: Partial<ComponentProps<typeof ReleaseDialog>> = {}) {
  const released: ReleaseResult[] = [];
  const asked: string[] = [];
  let closed = 0;
  const props: ComponentProps<typeof ReleaseDialog> = {
    iteration: { id: 5, name: "second", currentPhase: "STAGING", headCommit: HEAD, sourceBranch: "main" },
    repoTags: [
      { name: "v1.0.0", commitId: OLD },
      { name: "v1.1.0", commitId: HEAD },
    ],
    tagsProblem: null,
    releases: [{ tag: "v1.0.0", iterationId: 4 }],
    release: async (tag) => {
      asked.push(tag);
      return {
        iterationId: 5,
        tag,
        pipelineId: 9,
        status: "RUNNING",
        iterationPhaseId: 3,
        commitId: HEAD,
        rollback: false,
      };
    },
    onReleased: (r) => released.push(r),
    onClose: () => closed++,
    ...over,
  };
  render(
    <QueryClientProvider client={new QueryClient()}>
      <ReleaseDialog {...props} />
    </QueryClientProvider>,
  );
  const input = screen.getByLabelText("Tag");
  const type = (v: string) => fireEvent.change(input, { target: { value: v } });
  const check = () => document.getElementById("release-tag-check")!;
  const submit = () => screen.getAllByRole("button").find((b) => b.getAttribute("type") === "submit")!;
  return { type, check, submit, asked, released, closed: () => closed };
}

describe("the release dialog", () => {
  it("checks the tag as it is typed and keeps the button disabled until it is v + a semantic version", () => {
    const { type, check, submit } = setup();
    expect(check().dataset["kind"]).toBe("empty");
    expect(submit().getAttribute("aria-disabled")).toBe("true");
    type("1.2.0");
    expect(check().dataset["kind"]).toBe("invalid");
    expect(check().textContent).toContain("must be 'v' followed by a semantic version");
    expect(screen.getByLabelText("Tag").getAttribute("aria-invalid")).toBe("true");
    type("v1.2");
    expect(check().dataset["kind"]).toBe("invalid");
    type("v1.2.0-rc.1");
    expect(check().dataset["kind"]).toBe("new");
    expect(check().textContent).toContain("created on main at a1b2c3d4");
    expect(submit().getAttribute("aria-disabled")).toBe("false");
    expect(submit().textContent).toBe("Release v1.2.0-rc.1");
  });

  it("says whether the tag exists: on the head, on another commit, or released before (a rollback)", () => {
    const staging = setup();
    staging.type("v1.1.0");
    expect(staging.check().dataset["kind"]).toBe("existing");
    staging.type("v1.0.0");
    // Not a rollback from STAGING: the API refuses a tag on another commit (2003).
    expect(staging.check().dataset["kind"]).toBe("elsewhere");
    expect(staging.check().textContent).toContain("already exists on commit 0f1e2d3c");
  });

  it("offers a rollback for a tag this app released before, once the iteration is released", () => {
    const { type, check, submit } = setup({
      iteration: { id: 5, name: "second", currentPhase: "RELEASED", headCommit: HEAD, sourceBranch: "main" },
    });
    type("v1.0.0");
    expect(check().dataset["kind"]).toBe("rollback");
    expect(check().textContent).toContain("this is a rollback");
    expect(submit().textContent).toBe("Roll back to v1.0.0");
  });

  it("releases the trimmed tag and reports what the API answered", async () => {
    const { type, submit, asked, released } = setup();
    type("  v2.0.0 ");
    fireEvent.click(submit());
    await waitFor(() => expect(released).toHaveLength(1));
    expect(asked).toEqual(["v2.0.0"]);
    expect(released[0]!.pipelineId).toBe(9);
  });

  it("shows the API's refusal with its code and message in the dialog", async () => {
    const { type, submit, released } = setup({
      release: () => Promise.reject(new ApiError(2003, "tag v2.0.0 exists on another commit", 409)),
    });
    type("v2.0.0");
    fireEvent.click(submit());
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("2003");
    expect(alert.textContent).toContain("tag v2.0.0 exists on another commit");
    expect(released).toEqual([]);
    type("v2.0.1");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("closes from its close button", () => {
    const { closed } = setup();
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(closed()).toBe(1);
  });
});

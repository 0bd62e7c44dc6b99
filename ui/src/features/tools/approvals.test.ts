import { afterEach, describe, expect, it } from "vitest";

import type { ToolApprovalRequested } from "@/ipc/bindings";
import { addApprovalRequest, claimOrigin, closeApprovalRequest, requestsOf, resetApprovals, unclaimed, useApprovals } from "./approvals";
import { renderHook } from "@testing-library/react";

const request = (id: string, origin: string | null): ToolApprovalRequested => ({
  id,
  tool: "shell",
  description: "Runs a shell command.",
  effects: { writes: true, runsCode: true, network: false },
  arguments: "{}",
  untrusted: null,
  origin,
});

afterEach(() => resetApprovals());

describe("tool approvals", () => {
  it("go to the dialog unless an open view claims their origin, and back when it lets go", () => {
    const { result, rerender } = renderHook(() => useApprovals());
    addApprovalRequest(request("run", null));
    addApprovalRequest(request("chat", "conversation:c1"));
    rerender();
    expect(unclaimed(result.current).map((waiting) => waiting.id)).toEqual(["run", "chat"]);
    const release = claimOrigin("conversation:c1");
    rerender();
    expect(unclaimed(result.current).map((waiting) => waiting.id)).toEqual(["run"]);
    expect(requestsOf(result.current, "conversation:c1").map((waiting) => waiting.id)).toEqual(["chat"]);
    expect(requestsOf(result.current, "conversation:other")).toEqual([]);
    release();
    rerender();
    expect(unclaimed(result.current).map((waiting) => waiting.id)).toEqual(["run", "chat"]);
    // A run that ended takes its question away.
    closeApprovalRequest("run");
    rerender();
    expect(unclaimed(result.current).map((waiting) => waiting.id)).toEqual(["chat"]);
  });

  it("counts claims, so a second view letting go keeps the first one's", () => {
    const { result, rerender } = renderHook(() => useApprovals());
    addApprovalRequest(request("chat", "conversation:c1"));
    const first = claimOrigin("conversation:c1");
    const second = claimOrigin("conversation:c1");
    second();
    rerender();
    expect(unclaimed(result.current)).toEqual([]);
    first();
    rerender();
    expect(unclaimed(result.current).map((waiting) => waiting.id)).toEqual(["chat"]);
  });
});

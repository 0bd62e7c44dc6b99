import { describe, expect, it } from "vitest";

import type { CallTrace, NodeTrace } from "@/ipc/bindings";
import { duration, firstDivergence, nodeStatus, viewCall } from "./runInspect";

const trace = (fields: Partial<NodeTrace>): NodeTrace =>
  ({ node: "n", kind: "llm", step: null, writes: {}, next: [], calls: [], attempts: 1, error: null, startedMs: null, endedMs: null, ...fields }) as NodeTrace;

describe("the run inspector's reading of a run", () => {
  it("shows a model call as the messages it saw and its answer", () => {
    const call: CallTrace = {
      path: "answer",
      index: 0,
      kind: "model",
      request: { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Q: port?" }], tools: [] },
      response: { ok: { text: "8080", provider: "local", model: "smollm2", tool_calls: [] } },
    };
    expect(viewCall(call)).toEqual({
      kind: "model",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Q: port?" },
      ],
      answer: "8080",
      model: "local · smollm2",
      error: null,
    });
  });

  it("shows a tool call's arguments, result and error", () => {
    const ok: CallTrace = { path: "list", index: 0, kind: "tool", request: { tool: "fs.list", arguments: { path: "." } }, response: { ok: ["a.md"] } };
    expect(viewCall(ok)).toMatchObject({ kind: "tool", tool: "fs.list", arguments: { path: "." }, result: ["a.md"], error: null });
    const failed: CallTrace = { path: "read", index: 0, kind: "tool", request: { tool: "fs.read", arguments: {} }, response: { error: { message: "no such file" } } };
    expect(viewCall(failed)).toMatchObject({ error: "no such file", result: null });
    const retrieval: CallTrace = { path: "find", index: 0, kind: "retrieve", request: { query: "q" }, response: { ok: [] } };
    expect(viewCall(retrieval)).toMatchObject({ kind: "other", label: "retrieve", response: [] });
  });

  it("derives status, duration and the first divergence", () => {
    expect(nodeStatus(trace({ step: 2 }))).toBe("done");
    expect(nodeStatus(trace({ error: "boom" }))).toBe("failed");
    expect(nodeStatus(trace({}))).toBe("unfinished");
    expect(duration(trace({ startedMs: 1000, endedMs: 1250 }))).toBe(250);
    expect(duration(trace({ startedMs: 1000 }))).toBeNull();
    expect(
      firstDivergence([
        { node: "a", recorded: 1, now: 1, same: true },
        { node: "b", recorded: "x", now: "y", same: false },
        { node: "c", recorded: 2, now: 3, same: false },
      ]),
    ).toBe("b");
    expect(firstDivergence([{ node: "a", recorded: 1, now: 1, same: true }])).toBeNull();
  });
});

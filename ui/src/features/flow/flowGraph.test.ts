import { describe, expect, it } from "vitest";

import type { RunEvent } from "@/ipc/bindings";
import { addNode, applyEvent, connect, connectionProblem, disconnect, EMPTY_RUN, insertAfter, pasteNode, replaceNode, toCanvas, viewAt, type FlowDoc, type FlowNode } from "./flowGraph";

const flow: FlowDoc = {
  version: 2,
  name: "t",
  state: { n: "number" },
  nodes: [
    { id: "in", kind: "input", fields: [] },
    { id: "pick", kind: "router", routes: [{ when: "n > 1", to: "big" }], default: "small" },
    { id: "big", kind: "transform", set: { n: "n" } },
    { id: "small", kind: "transform", set: {} },
  ],
  edges: [{ from: "in", to: "pick" }],
};

function event(seq: number, node: string | null, body: RunEvent["event"]): RunEvent {
  return { run: "r1", seq, atMs: seq, node, event: body } as RunEvent;
}

describe("flow graph", () => {
  it("derives canvas edges from plain edges, routes and defaults", () => {
    const { nodes, edges } = toCanvas(flow, [], {}, null);
    expect(nodes.map((node) => node.id)).toEqual(["in", "pick", "big", "small"]);
    expect(edges.map((edge) => `${edge.source}-${edge.sourceHandle}->${edge.target}`)).toEqual([
      "in-next->pick",
      "pick-route-0->big",
      "pick-default->small",
    ]);
  });

  it("edits: add, connect through a router handle, rename, disconnect", () => {
    let edited = addNode(flow, "llm", { x: 0, y: 500 });
    expect(edited.nodes.at(-1)?.id).toBe("llm-1");
    edited = connect(edited, "pick", "default", "llm-1");
    const router = edited.nodes.find((node) => node.id === "pick");
    expect(router?.kind === "router" && router.default).toBe("llm-1");
    edited = connect(edited, "big", "next", "llm-1");
    edited = replaceNode(edited, "llm-1", { id: "answer", kind: "llm", prompt: "hi" });
    expect(edited.edges).toContainEqual({ from: "big", to: "answer" });
    const renamed = edited.nodes.find((node) => node.id === "pick");
    expect(renamed?.kind === "router" && renamed.default).toBe("answer");
    edited = disconnect(edited, "big->answer");
    expect(edited.edges).not.toContainEqual({ from: "big", to: "answer" });
  });

  it("follows a run's events and steps back through them", () => {
    const events = [
      event(0, null, { type: "runStarted", flow: "t", mode: "start" }),
      event(1, "in", { type: "nodeStarted", kind: "input", step: 0, attempt: 1 }),
      event(2, "in", { type: "nodeFinished", step: 0, durationMs: 1, writes: { n: 2 }, next: ["pick"] }),
      event(3, "pick", { type: "nodeStarted", kind: "router", step: 1, attempt: 1 }),
      event(4, "pick", { type: "token", text: "…" }),
      event(5, "pick", { type: "nodeFailed", error: "boom", retrying: false }),
      event(6, null, { type: "runFinished", status: "failed", output: null, error: "boom" }),
    ];
    const view = events.reduce(applyEvent, EMPTY_RUN);
    expect(view.statuses).toEqual({ in: "done", pick: "failed" });
    expect(view.finished).toBe("failed");
    expect(view.text.pick).toBe("…");
    expect(viewAt(events, 4).statuses).toEqual({ in: "done", pick: "running" });
  });
});

describe("inserting and connecting", () => {
  const blank: FlowDoc = {
    version: 2,
    name: "blank",
    state: {},
    nodes: [
      { id: "input", kind: "input", position: { x: 0, y: 0 } } as FlowNode,
      { id: "output", kind: "output", position: { x: 0, y: 240 } } as FlowNode,
    ],
    edges: [{ from: "input", to: "output" }],
  };

  it("inserts a node after the selected one and rewires what followed", () => {
    const flow = blank;
    const next = insertAfter(flow, "llm", "input");
    expect(next.edges).toEqual([
      { from: "llm-1", to: "output" },
      { from: "input", to: "llm-1" },
    ]);
    expect(next.nodes.find((node) => node.id === "llm-1")?.position).toEqual({ x: 0, y: 120 });
    expect(next.nodes.find((node) => node.id === "output")?.position).toEqual({ x: 0, y: 360 });
    // After an output node there is nothing to rewire: the node is appended.
    expect(insertAfter(flow, "llm", "output").edges).toEqual(flow.edges);
  });

  it("refuses connections the flow cannot have, with the reason", () => {
    const flow = blank;
    expect(connectionProblem(flow, "output", "input")).toMatch(/output node ends the run/);
    expect(connectionProblem(flow, "input", "input")).toMatch(/cannot follow itself/);
    expect(connectionProblem(flow, "input", "output")).toMatch(/already leads/);
    const withLlm = insertAfter(flow, "llm", "input");
    expect(connectionProblem(withLlm, "llm-1", "input")).toMatch(/input node starts the run/);
    expect(connectionProblem(withLlm, "input", "output")).toBeNull();
  });
});

describe("copy and paste", () => {
  it("pastes a copy with a fresh id beside the original, unconnected", () => {
    const original = flow.nodes[2]!;
    const pasted = pasteNode(flow, { ...original, position: { x: 10, y: 20 } } as FlowNode);
    const copy = pasted.nodes.at(-1)!;
    expect(copy).toMatchObject({ id: "transform-1", kind: "transform", set: { n: "n" }, position: { x: 270, y: 20 } });
    expect(pasted.edges).toEqual(flow.edges);
  });
});

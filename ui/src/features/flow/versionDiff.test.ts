import { describe, expect, it } from "vitest";

import type { FlowDoc, FlowNode } from "./flowGraph";
import { diffFlows, marksOf } from "./versionDiff";

const node = (fields: Record<string, unknown>) => fields as unknown as FlowNode;
const v1: FlowDoc = {
  version: 2,
  name: "f",
  state: { question: "string" },
  nodes: [
    node({ id: "in", kind: "input", position: { x: 0, y: 0 } }),
    node({ id: "ask", kind: "llm", prompt: "{{ question }}", position: { x: 0, y: 120 } }),
    node({ id: "old", kind: "transform", set: {} }),
    node({ id: "out", kind: "output", keys: [], position: { x: 0, y: 240 } }),
  ],
  edges: [
    { from: "in", to: "ask" },
    { from: "ask", to: "out" },
  ],
};

describe("version diff", () => {
  it("names added, removed, changed and moved nodes, edges and settings", () => {
    const v2: FlowDoc = {
      ...v1,
      state: { question: "string", answer: "string" },
      nodes: [
        node({ id: "in", kind: "input", position: { x: 40, y: 0 } }),
        node({ prompt: "Answer: {{ question }}", id: "ask", kind: "llm", position: { x: 0, y: 120 } }),
        node({ id: "out", kind: "output", keys: [], position: { x: 0, y: 240 } }),
        node({ id: "check", kind: "reflect", subject: "answer", criteria: [] }),
      ],
      edges: [
        { from: "in", to: "ask" },
        { from: "ask", to: "check" },
        { from: "check", to: "out" },
      ],
    };
    const changes = diffFlows(v1, v2);
    expect(changes).toEqual({
      added: ["check"],
      removed: ["old"],
      changed: ["ask"],
      moved: ["in"],
      edgesAdded: ["ask → check", "check → out"],
      edgesRemoved: ["ask → out"],
      settings: ["state"],
    });
    expect(marksOf(changes)).toEqual({ check: "added", ask: "changed", in: "moved" });
  });

  it("finds nothing between a version and itself, whatever the key order", () => {
    const reordered: FlowDoc = { ...v1, nodes: v1.nodes.map((entry) => ({ ...Object.fromEntries(Object.entries(entry).reverse()) }) as FlowNode) };
    expect(diffFlows(v1, reordered)).toEqual({ added: [], removed: [], changed: [], moved: [], edgesAdded: [], edgesRemoved: [], settings: [] });
  });
});

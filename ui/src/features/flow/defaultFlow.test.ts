import { describe, expect, it } from "vitest";

import { defaultFlow, stepStatus } from "./defaultFlow";

describe("default flow", () => {
  it("is Retrieve → LLM → Answer after the question", () => {
    const { nodes, edges } = defaultFlow(null, "SmolLM2");
    expect(nodes.map((n) => n.data.title)).toEqual(["Question", "Retrieve", "LLM", "Answer"]);
    expect(edges.map((e) => `${e.source}->${e.target}`)).toEqual([
      "question->retrieve",
      "retrieve->llm",
      "llm->answer",
    ]);
    expect(nodes[2]?.data.detail).toBe("SmolLM2");
  });

  it("lights the working step and animates the edge into it", () => {
    expect([0, 1, 2, 3].map((i) => stepStatus(i, "generating"))).toEqual([
      "done",
      "done",
      "active",
      "idle",
    ]);
    const { edges } = defaultFlow("retrieving", "m");
    expect(edges.map((e) => e.animated)).toEqual([true, false, false]);
  });
});

import { describe, expect, it } from "vitest";

import type { NodeComparison_Serialize as NodeComparison, NodeSide_Serialize as NodeSide, RunSide_Serialize as RunSide, Usage_Serialize as Usage } from "@/ipc/bindings";
import { runLine, sections, sideFigures, took } from "./runCompare";

const USAGE: Usage = { modelCalls: 1, promptTokens: 12, cachedTokens: 0, completionTokens: 3, costUsd: 0.000018, unpricedCalls: 0, computeMs: 0, modelMs: 40, fallbacks: 0, firstTokenMs: 10 };
const NONE: Usage = { ...USAGE, modelCalls: 0, promptTokens: 0, completionTokens: 0, costUsd: null };
const side = (fields: Partial<NodeSide>): NodeSide => ({
  kind: "llm",
  status: "done",
  prompt: "user: Greet Ada.\n",
  answer: "Hello\n",
  models: ["one · gpt-4o-mini"],
  tools: [],
  writes: { greeting: "Hello" },
  next: ["loud"],
  error: null,
  usage: USAGE,
  durationMs: 42,
  ...fields,
});

describe("the run comparison's reading of two runs", () => {
  it("puts each part of a node side by side and marks the ones that differ", () => {
    const node: NodeComparison = {
      node: "greet",
      a: side({}),
      b: side({ answer: "Bonjour\n", models: ["two · gpt-4.1-mini"], writes: { greeting: "Bonjour" } }),
      differs: ["answer", "model", "output"],
    };
    const shown = sections(node);
    expect(shown.map((section) => section.name)).toEqual(["status", "prompt", "answer", "model", "output", "route"]);
    expect(shown.find((section) => section.name === "prompt")).toEqual({ name: "prompt", a: "user: Greet Ada.", b: "user: Greet Ada.", differs: false });
    expect(shown.find((section) => section.name === "answer")).toEqual({ name: "answer", a: "Hello", b: "Bonjour", differs: true });
  });

  it("shows a node only one run ran with the other side empty", () => {
    const node: NodeComparison = { node: "extra", a: null, b: side({ prompt: "", answer: "", models: [], usage: NONE, writes: {} }), differs: ["only in B"] };
    expect(sideFigures(node.a)).toBe("did not run");
    expect(sideFigures(node.b)).toBe("42 ms");
    const status = sections(node).find((section) => section.name === "status");
    expect(status).toEqual({ name: "status", a: "", b: "done", differs: false });
  });

  it("says tokens, cost and time in a few characters", () => {
    expect(sideFigures(side({}))).toBe("12+3 tok · $0.000018 · 42 ms");
    expect(took(2400)).toBe("2.4 s");
    expect(took(null)).toBe("");
    const run: RunSide = { id: "r1", flow: "greeter", flowHash: "abc", status: "failed", input: {}, output: null, error: "boom", models: ["one · gpt-4o-mini"], usage: USAGE, durationMs: 1500 };
    expect(runLine(run)).toBe("failed · one · gpt-4o-mini · 1 model call · 12 in → 3 out tokens · $0.000018 · 1.5 s · error: boom");
  });
});

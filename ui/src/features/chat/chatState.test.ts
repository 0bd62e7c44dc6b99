import { describe, expect, it } from "vitest";

import type { Answer, Citation } from "@/ipc/bindings";
import { chatReducer, currentPhase, type Message } from "./chatState";

const citation: Citation = {
  number: 1,
  project: "docs",
  path: "guide.md",
  start_line: 3,
  end_line: 9,
  page: null,
  score: 0.8,
  label: "guide.md:3-9",
  text: "Install with make app.",
};

const answer: Answer = {
  text: "Run make app [1].",
  citations: [citation],
  model: "SmolLM2",
  completion: {
    text: " Run make app [1].",
    toolCalls: [],
    provider: "local",
    model: "SmolLM2",
    promptTokens: 120,
    cachedTokens: 0,
    completionTokens: 7,
    finish: "stop",
    elapsedMs: 300,
    firstTokenMs: 100,
    tokensPerSecond: 40,
    concurrent: 1,
    attempts: [],
  },
};

describe("chatReducer", () => {
  it("streams an answer through retrieval, tokens and completion", () => {
    let state: Message[] = [];
    state = chatReducer(state, { type: "ask", id: "a1", question: "How to install?" });
    expect(currentPhase(state)).toBe("retrieving");
    state = chatReducer(state, { type: "event", id: "a1", event: { type: "retrieved", citations: [citation] } });
    expect(currentPhase(state)).toBe("generating");
    state = chatReducer(state, { type: "event", id: "a1", event: { type: "token", text: "Run " } });
    state = chatReducer(state, { type: "event", id: "a1", event: { type: "token", text: "make" } });
    const streaming = state[1];
    expect(streaming?.role === "assistant" && streaming.text).toBe("Run make");
    state = chatReducer(state, { type: "done", id: "a1", answer });
    const final = state[1];
    expect(final?.role).toBe("assistant");
    if (final?.role !== "assistant") return;
    expect(final.phase).toBe("done");
    expect(final.text).toBe("Run make app [1].");
    expect(final.citations.map((c) => c.label)).toEqual(["guide.md:3-9"]);
    expect(final.stats?.completionTokens).toBe(7);
  });

  it("keeps the error and marks cancellation apart from failure", () => {
    let state = chatReducer([], { type: "ask", id: "a", question: "q" });
    state = chatReducer(state, {
      type: "failed",
      id: "a",
      error: { code: "cancelled", message: "cancelled", details: null },
    });
    expect(currentPhase(state)).toBe("cancelled");
    state = chatReducer(state, { type: "ask", id: "b", question: "q" });
    state = chatReducer(state, {
      type: "failed",
      id: "b",
      error: { code: "model", message: "model file missing", details: null },
    });
    expect(currentPhase(state)).toBe("error");
    const failed = state[3];
    expect(failed?.role === "assistant" && failed.error?.message).toBe("model file missing");
  });
});

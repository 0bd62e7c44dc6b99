import { describe, expect, it } from "vitest";

import type { Citation_Serialize as Citation, ConversationMessage_Serialize as ConversationMessage, MessageMeta_Serialize as MessageMeta } from "@/ipc/bindings";
import { chatReducer, currentPhase, emptyChat, lastQuestion, remoteSide, scopeOf, type ChatState } from "./chatState";

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

const meta = (extra: Partial<MessageMeta> = {}): MessageMeta => ({
  prompt: null,
  status: "done",
  error: null,
  citations: [],
  tools: [],
  stats: null,
  runId: null,
  dropped: 0,
  ...extra,
});

const stored = (index: number, role: string, text: string, extra: Partial<MessageMeta> = {}): ConversationMessage => ({
  index,
  role,
  text,
  createdAt: 0,
  meta: meta(extra),
});

const summary = { id: "c1", title: "How to install?", mode: "ask", target: "docs", createdAt: 0, updatedAt: 0, messages: 2, snippet: null };

describe("chatReducer", () => {
  it("streams an ask answer through retrieval, tokens and the stored message", () => {
    let state: ChatState = chatReducer(emptyChat, { type: "send", id: "t1", text: "How to install?", from: null });
    expect(currentPhase(state.messages)).toBe("retrieving");
    state = chatReducer(state, { type: "event", id: "t1", event: { type: "question", index: 0 } });
    expect(lastQuestion(state.messages)?.index).toBe(0);
    state = chatReducer(state, { type: "event", id: "t1", event: { type: "retrieved", citations: [citation] } });
    expect(currentPhase(state.messages)).toBe("generating");
    state = chatReducer(state, { type: "event", id: "t1", event: { type: "token", text: "Run " } });
    state = chatReducer(state, { type: "event", id: "t1", event: { type: "token", text: "make" } });
    const streaming = state.messages[1];
    expect(streaming?.role === "assistant" && streaming.text).toBe("Run make");
    state = chatReducer(state, {
      type: "done",
      id: "t1",
      message: stored(1, "assistant", "Run make app [1].", {
        citations: [citation],
        stats: { provider: "local", model: "SmolLM2", promptTokens: 120, cachedTokens: 100, completionTokens: 7, tokensPerSecond: 40, fallbacks: 0 },
      }),
    });
    const final = state.messages[1];
    if (final?.role !== "assistant") throw new Error("an answer");
    expect(final.phase).toBe("done");
    expect(final.index).toBe(1);
    expect(final.text).toBe("Run make app [1].");
    expect(final.citations.map((c) => c.label)).toEqual(["guide.md:3-9"]);
    expect(final.stats?.cachedTokens).toBe(100);
  });

  it("shows an agent's tool calls as they start and answer", () => {
    let state: ChatState = chatReducer({ ...emptyChat, mode: "agent" }, { type: "send", id: "t", text: "list files", from: null });
    expect(currentPhase(state.messages)).toBe("generating");
    state = chatReducer(state, { type: "event", id: "t", event: { type: "toolCall", tool: "fs.list", arguments: '{"path":"."}' } });
    state = chatReducer(state, { type: "event", id: "t", event: { type: "toolCall", tool: "fs.read", arguments: "{}" } });
    state = chatReducer(state, { type: "event", id: "t", event: { type: "toolResult", tool: "fs.list", ok: true, summary: "README.md" } });
    state = chatReducer(state, { type: "event", id: "t", event: { type: "run", runId: "r-123" } });
    const answer = state.messages[1];
    if (answer?.role !== "assistant") throw new Error("an answer");
    expect(answer.tools.map((step) => [step.tool, step.ok])).toEqual([
      ["fs.list", true],
      ["fs.read", null],
    ]);
    expect(answer.runId).toBe("r-123");
  });

  it("loads a stored conversation and replaces from a resent question on", () => {
    let state = chatReducer(emptyChat, {
      type: "load",
      conversation: {
        summary,
        messages: [stored(0, "user", "q1"), stored(1, "assistant", "a1"), stored(2, "user", "q2"), stored(3, "assistant", "half", { status: "cancelled" })],
      },
    });
    expect(state.mode).toBe("ask");
    expect(currentPhase(state.messages)).toBe("cancelled");
    expect(lastQuestion(state.messages)?.text).toBe("q2");
    state = chatReducer(state, { type: "send", id: "t", text: "q2 edited", from: 2 });
    expect(state.messages.map((message) => message.role === "user" ? message.text : `(${message.phase})`)).toEqual(["q1", "(done)", "q2 edited", "(retrieving)"]);
  });

  it("keeps the error and marks cancellation apart from failure", () => {
    let state = chatReducer(emptyChat, { type: "send", id: "a", text: "q", from: null });
    state = chatReducer(state, { type: "failed", id: "a", error: { code: "cancelled", message: "cancelled", details: null } });
    expect(currentPhase(state.messages)).toBe("cancelled");
    state = chatReducer(state, { type: "send", id: "b", text: "q", from: null });
    state = chatReducer(state, { type: "failed", id: "b", error: { code: "model", message: "model file missing", details: null } });
    expect(currentPhase(state.messages)).toBe("error");
    const failed = state.messages[3];
    expect(failed?.role === "assistant" && failed.error?.message).toBe("model file missing");
    // A stored failed answer reads the same.
    state = chatReducer(state, { type: "done", id: "b", message: stored(3, "assistant", "", { status: "failed", error: "model removed" }) });
    const after = state.messages[3];
    expect(after?.role === "assistant" && [after.phase, after.error?.message]).toEqual(["error", "model removed"]);
  });
});

describe("remoteSide", () => {
  it("reads the server side of a conversation, and nothing of a local one", () => {
    expect(remoteSide("remote:http://127.0.0.1:7420/team#docs")).toEqual({ origin: "http://127.0.0.1:7420/team", project: "docs" });
    expect(remoteSide("remote:http://127.0.0.1:7420/team")).toEqual({ origin: "http://127.0.0.1:7420/team", project: null });
    expect(remoteSide("docs")).toBeNull();
    expect(remoteSide(null)).toBeNull();
  });
});

describe("scopeOf", () => {
  it("says what each conversation talks to, here or on a server", () => {
    expect(scopeOf("ask", null, false, null, null)).toBe("Answers from all ingested projects");
    expect(scopeOf("ask", null, false, "docs", null)).toBe("Answers from project “docs”");
    expect(scopeOf("ask", "docs", true, "other", null)).toBe("Answers from project “docs”");
    expect(scopeOf("ask", null, false, "lumen", "team on http://h")).toBe("Answers from project “lumen” of team on http://h");
    expect(scopeOf("ask", "remote:http://h/team#lumen", true, null, "team on http://h")).toBe("Answers from project “lumen” of team on http://h");
    expect(scopeOf("ask", "remote:http://h/team", true, null, "team on http://h")).toBe("Answers from the projects of team on http://h");
    expect(scopeOf("ask", "remote:http://h/team", true, null, null)).toBe("Asks http://h/team — open that workspace from the header to continue");
    expect(scopeOf("chat", null, true, null, null)).toBe("A plain conversation with the model");
    expect(scopeOf("chat", "remote:http://h/team", true, null, "team on http://h")).toBe("A plain conversation with the models of team on http://h");
    expect(scopeOf("chat", "remote:http://h/team", true, null, null)).toBe("Talks to http://h/team — open that workspace from the header to continue");
    expect(scopeOf("agent", "remote:http://h/team#helper@1.0.0", true, null, "team on http://h")).toBe("Agent helper@1.0.0 of team on http://h");
    expect(scopeOf("agent", null, false, null, "team on http://h")).toBe("Pick a published agent of team on http://h");
    expect(scopeOf("agent", "remote:http://h/team#helper@1.0.0", true, null, null)).toBe("Runs an agent of http://h/team — open that workspace from the header to continue");
    expect(scopeOf("agent", "planner@1.0.0", true, null, null)).toBe("Agent planner@1.0.0");
    expect(scopeOf("agent", null, false, null, null)).toBe("Pick a published agent");
  });
});

import { describe, expect, it } from "vitest";

import type { CallTrace, NodeTrace, Usage } from "@/ipc/bindings";
import { callUsage, dollars, duration, firstDivergence, nodeStatus, usageText, viewCall } from "./runInspect";

const NO_USAGE: Usage = { modelCalls: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: null, unpricedCalls: 0, computeMs: 0, modelMs: 0, fallbacks: 0, firstTokenMs: null };
const trace = (fields: Partial<NodeTrace>): NodeTrace =>
  ({ node: "n", kind: "llm", step: null, writes: {}, next: [], calls: [], attempts: 1, error: null, startedMs: null, endedMs: null, usage: NO_USAGE, ...fields }) as NodeTrace;

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

  it("sums up tokens, cost, compute and fallbacks, and says when a price is missing", () => {
    const usage: Usage = {
      modelCalls: 2,
      promptTokens: 24,
      cachedTokens: 0,
      completionTokens: 6,
      costUsd: 0.000018,
      unpricedCalls: 1,
      computeMs: 0,
      modelMs: 900,
      fallbacks: 1,
      firstTokenMs: 120,
    };
    expect(usageText(usage)).toBe("2 model calls · 24 in → 6 out tokens · $0.000018 + 1 unpriced (add [[prices]] to config.toml) · 1 fallback");
    expect(usageText({ ...usage, costUsd: null, unpricedCalls: 0, fallbacks: 0, computeMs: 2500, modelCalls: 1 })).toBe("1 model call · 24 in → 6 out tokens · 2.5 s local model time");
    expect(usageText({ ...usage, costUsd: null })).toContain("cost unknown: 1 unpriced");
    expect(usageText({ ...usage, modelCalls: 0 })).toBe("");
    expect([dollars(0), dollars(1.234), dollars(0.0042), dollars(0.000018)]).toEqual(["$0", "$1.23", "$0.0042", "$0.000018"]);
  });

  it("reads a model call's tokens, timing, cost and the providers tried", () => {
    const usage = {
      prompt_tokens: 12,
      completion_tokens: 3,
      latency_ms: 340,
      first_token_ms: 80,
      cost_usd: 0.000018,
      attempts: [
        { provider: "down", outcome: "failed", detail: "connection refused" },
        { provider: "priced", outcome: "ok", detail: null },
      ],
    };
    const call: CallTrace = { path: "a", index: 0, kind: "model", request: { messages: [] }, response: { ok: { text: "hi", usage } } };
    expect(callUsage(call)).toEqual({
      prompt: 12,
      cached: 0,
      completion: 3,
      latencyMs: 340,
      firstTokenMs: 80,
      cost: 0.000018,
      unpriced: false,
      attempts: ["down: failed (connection refused)", "priced: ok"],
    });
    expect(callUsage({ ...call, response: { ok: { text: "old recording" } } })).toBeNull();
  });
});

// What the run inspector shows of a stored run's node: its calls read as a
// person would (the messages a model saw and its answer, a tool's arguments
// and result), its duration, and where a re-run first diverged. Pure logic.
import type { CallTrace, NodeDiff, NodeTrace, Usage } from "@/ipc/bindings";

export interface Message {
  role: string;
  content: string;
}

export type CallView =
  | { kind: "model"; messages: Message[]; answer: string; model: string; error: string | null }
  | { kind: "tool"; tool: string; arguments: unknown; result: unknown; error: string | null }
  | { kind: "other"; label: string; request: unknown; response: unknown; error: string | null };

type Json = Record<string, unknown>;
const asObject = (value: unknown): Json => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {});

function errorOf(response: unknown): string | null {
  const error = asObject(response).error;
  if (error === undefined || error === null) return null;
  return typeof error === "string" ? error : (asObject(error).message as string | undefined) ?? JSON.stringify(error);
}

/** A recorded call, read. */
export function viewCall(call: CallTrace): CallView {
  const request = asObject(call.request);
  const response = asObject(call.response);
  const ok = response.ok;
  const error = errorOf(call.response);
  if (call.kind === "model") {
    const messages = (Array.isArray(request.messages) ? request.messages : []).map((message) => {
      const fields = asObject(message);
      return { role: String(fields.role ?? "?"), content: typeof fields.content === "string" ? fields.content : JSON.stringify(fields.content ?? "") };
    });
    const reply = asObject(ok);
    const provider = typeof reply.provider === "string" ? reply.provider : "";
    const model = typeof reply.model === "string" ? reply.model : "";
    return { kind: "model", messages, answer: typeof reply.text === "string" ? reply.text : "", model: [provider, model].filter(Boolean).join(" · "), error };
  }
  if (call.kind === "tool") {
    return { kind: "tool", tool: String(request.tool ?? "?"), arguments: request.arguments ?? null, result: ok ?? null, error };
  }
  return { kind: "other", label: call.kind, request: call.request, response: ok ?? call.response, error };
}

/** Milliseconds a node took, when it both started and ended. */
export function duration(trace: NodeTrace): number | null {
  return trace.startedMs !== null && trace.startedMs !== undefined && trace.endedMs !== null && trace.endedMs !== undefined ? trace.endedMs - trace.startedMs : null;
}

export function nodeStatus(trace: NodeTrace): "done" | "failed" | "unfinished" {
  if (trace.step !== null && trace.step !== undefined) return "done";
  return trace.error ? "failed" : "unfinished";
}

/** The first node whose outputs differ between the recording and the re-run. */
export function firstDivergence(nodes: NodeDiff[]): string | null {
  return nodes.find((node) => !node.same)?.node ?? null;
}

/** Compact JSON for display. */
export function pretty(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2) ?? "null";
}

/** Dollars with cents, or two significant digits below a cent. */
export function dollars(cost: number): string {
  if (cost <= 0) return "$0";
  if (cost >= 0.01) return `$${cost.toFixed(2)}`;
  const decimals = Math.min(12, Math.ceil(-Math.log10(cost)) + 1);
  return `$${cost.toFixed(decimals)}`;
}

/** Tokens, cost, local compute and fallbacks of a node or a run in one line
 * (empty without model calls). */
export function usageText(usage: Usage): string {
  if (usage.modelCalls === 0) return "";
  const parts = [`${usage.modelCalls} model call${usage.modelCalls === 1 ? "" : "s"}`, `${usage.promptTokens} in → ${usage.completionTokens} out tokens`];
  if (usage.cachedTokens > 0) parts.push(`${usage.cachedTokens} cached`);
  const cost = usage.costUsd;
  const unpriced = `${usage.unpricedCalls} unpriced (add [[prices]] to config.toml)`;
  if (cost !== null && cost !== undefined) parts.push(usage.unpricedCalls > 0 ? `${dollars(cost)} + ${unpriced}` : dollars(cost));
  else if (usage.unpricedCalls > 0) parts.push(`cost unknown: ${unpriced}`);
  if (usage.computeMs > 0) parts.push(`${(usage.computeMs / 1000).toFixed(1)} s local model time`);
  if (usage.fallbacks > 0) parts.push(`${usage.fallbacks} fallback${usage.fallbacks === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

export interface CallUsageView {
  prompt: number;
  cached: number;
  completion: number;
  latencyMs: number;
  firstTokenMs: number | null;
  cost: number | null;
  /** A remote model with no price. */
  unpriced: boolean;
  /** The providers tried, in order: `name: outcome`. */
  attempts: string[];
}

/** The usage a recorded model call carries (none in older recordings). */
export function callUsage(call: CallTrace): CallUsageView | null {
  const usage = asObject(asObject(asObject(call.response).ok).usage);
  if (Object.keys(usage).length === 0) return null;
  const number = (value: unknown) => (typeof value === "number" ? value : 0);
  const attempts = (Array.isArray(usage.attempts) ? usage.attempts : []).map((attempt) => {
    const fields = asObject(attempt);
    const detail = typeof fields.detail === "string" ? ` (${fields.detail})` : "";
    return `${String(fields.provider ?? "?")}: ${String(fields.outcome ?? "?")}${detail}`;
  });
  return {
    prompt: number(usage.prompt_tokens),
    cached: number(usage.cached_tokens),
    completion: number(usage.completion_tokens),
    latencyMs: number(usage.latency_ms),
    firstTokenMs: typeof usage.first_token_ms === "number" ? usage.first_token_ms : null,
    cost: typeof usage.cost_usd === "number" ? usage.cost_usd : null,
    unpriced: usage.unpriced === true,
    attempts,
  };
}

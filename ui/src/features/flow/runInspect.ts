// What the run inspector shows of a stored run's node: its calls read as a
// person would (the messages a model saw and its answer, a tool's arguments
// and result), its duration, and where a re-run first diverged. Pure logic.
import type { CallTrace, NodeDiff, NodeTrace } from "@/ipc/bindings";

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

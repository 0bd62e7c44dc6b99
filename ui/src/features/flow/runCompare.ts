// What the run comparison shows of two stored runs: a line per run, a row
// per node with each side's tokens, cost and time, and for one node the
// parts of it side by side with those that differ marked. Pure logic.
import type { NodeComparison_Serialize as NodeComparison, NodeSide_Serialize as NodeSide, RunSide_Serialize as RunSide } from "@/ipc/bindings";
import { dollars, pretty, usageText } from "./runInspect";

/** Milliseconds as `850 ms` or `2.4 s`. */
export function took(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** One run in a line: status, models, usage, time, error. */
export function runLine(side: RunSide): string {
  const parts = [side.status];
  if (side.models.length > 0) parts.push(side.models.join(", "));
  const usage = usageText(side.usage);
  if (usage) parts.push(usage);
  const time = took(side.durationMs);
  if (time) parts.push(time);
  if (side.error) parts.push(`error: ${side.error}`);
  return parts.join(" · ");
}

/** One side of a node row: tokens, cost and time, or why there are none. */
export function sideFigures(side: NodeSide | null | undefined): string {
  if (!side) return "did not run";
  const parts: string[] = [];
  if (side.usage.modelCalls > 0) parts.push(`${side.usage.promptTokens}+${side.usage.completionTokens} tok`);
  if (side.usage.costUsd !== null && side.usage.costUsd !== undefined) parts.push(dollars(side.usage.costUsd));
  const time = took(side.durationMs);
  if (time) parts.push(time);
  return parts.length > 0 ? parts.join(" · ") : side.status;
}

export interface Section {
  name: string;
  a: string;
  b: string;
  differs: boolean;
}

/** The parts of a node on both sides, those with something in them. */
export function sections(node: NodeComparison): Section[] {
  const text = (side: NodeSide | null | undefined, part: (side: NodeSide) => string) => (side ? part(side) : "");
  const all: [string, (side: NodeSide) => string][] = [
    ["status", (side) => side.status],
    ["prompt", (side) => side.prompt.trimEnd()],
    ["answer", (side) => side.answer.trimEnd()],
    ["model", (side) => side.models.join(", ")],
    ["tools", (side) => (side.tools.length > 0 ? pretty(side.tools) : "")],
    ["output", (side) => pretty(side.writes)],
    ["route", (side) => side.next.join(", ")],
    ["error", (side) => side.error ?? ""],
  ];
  return all
    .map(([name, part]) => ({ name, a: text(node.a, part), b: text(node.b, part), differs: node.differs.includes(name) }))
    .filter((section) => section.a !== "" || section.b !== "");
}

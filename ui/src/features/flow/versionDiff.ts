// What changed between two versions of a flow, node by node: the marks the
// canvas shows (added, changed, moved) and the list of removed nodes. Pure.
import type { FlowDoc, FlowNode } from "./flowGraph";

export type Mark = "added" | "changed" | "moved";

export interface FlowChanges {
  added: string[];
  removed: string[];
  changed: string[];
  /** Only the canvas position differs. */
  moved: string[];
  edgesAdded: string[];
  edgesRemoved: string[];
  /** Flow-level settings that differ: description, state, permissions. */
  settings: string[];
}

function withoutPosition(node: FlowNode): string {
  const rest: Record<string, unknown> = { ...node };
  delete rest.position;
  return stable(rest);
}

/** JSON with object keys sorted, so key order never counts as a change. */
export function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stable((value as Record<string, unknown>)[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const edgeKeys = (flow: FlowDoc) => new Set((flow.edges ?? []).map((edge) => `${edge.from} → ${edge.to}`));

export function diffFlows(older: FlowDoc, newer: FlowDoc): FlowChanges {
  const before = new Map(older.nodes.map((node) => [node.id, node]));
  const after = new Map(newer.nodes.map((node) => [node.id, node]));
  const changes: FlowChanges = { added: [], removed: [], changed: [], moved: [], edgesAdded: [], edgesRemoved: [], settings: [] };
  for (const [id, node] of after) {
    const old = before.get(id);
    if (!old) changes.added.push(id);
    else if (withoutPosition(old) !== withoutPosition(node)) changes.changed.push(id);
    else if (stable(old.position ?? null) !== stable(node.position ?? null)) changes.moved.push(id);
  }
  for (const id of before.keys()) if (!after.has(id)) changes.removed.push(id);
  const [oldEdges, newEdges] = [edgeKeys(older), edgeKeys(newer)];
  changes.edgesAdded = [...newEdges].filter((edge) => !oldEdges.has(edge));
  changes.edgesRemoved = [...oldEdges].filter((edge) => !newEdges.has(edge));
  for (const key of ["description", "state", "permissions"] as const) {
    if (stable(older[key] ?? null) !== stable(newer[key] ?? null)) changes.settings.push(key);
  }
  return changes;
}

/** The canvas marks of the newer version's nodes. */
export function marksOf(changes: FlowChanges): Record<string, Mark> {
  const marks: Record<string, Mark> = {};
  for (const id of changes.moved) marks[id] = "moved";
  for (const id of changes.changed) marks[id] = "changed";
  for (const id of changes.added) marks[id] = "added";
  return marks;
}

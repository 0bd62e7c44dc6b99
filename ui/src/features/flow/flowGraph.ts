// Pure flow-editing and run-state logic, free of React: the flow document is
// the source of truth; the canvas is derived from it (with check problems
// and run statuses), and every edit is a function from flow to flow.
import type { Edge, Node } from "@xyflow/react";

import type { Flow_Serialize, Node_Serialize, Problem, RunEvent, ValueType } from "@/ipc/bindings";

export type FlowDoc = Flow_Serialize;
export type FlowNode = Node_Serialize;
export type Kind = FlowNode["kind"];
export type NodeStatus = "idle" | "running" | "done" | "failed" | "waiting";

/** What the palette offers: label, what the kind writes, and a starting config. */
export const KINDS: { kind: Kind; label: string; result: ValueType | null; make: () => FlowNode }[] = [
  { kind: "input", label: "Input", result: null, make: () => ({ id: "", kind: "input", fields: [] }) },
  { kind: "output", label: "Output", result: null, make: () => ({ id: "", kind: "output", keys: [] }) },
  { kind: "llm", label: "LLM", result: "string", make: () => ({ id: "", kind: "llm", prompt: "{{ question }}" }) },
  { kind: "agent", label: "Agent", result: "string", make: () => ({ id: "", kind: "agent", agent: "planner@1.0.0", task: "" }) },
  { kind: "tool", label: "Tool", result: "any", make: () => ({ id: "", kind: "tool", tool: "fs.list", args: { path: "." } }) },
  { kind: "retrieve", label: "Retrieve", result: "list", make: () => ({ id: "", kind: "retrieve", query: "{{ question }}", k: 6 }) },
  { kind: "router", label: "Router", result: null, make: () => ({ id: "", kind: "router", routes: [] }) },
  {
    kind: "parallel",
    label: "Parallel",
    result: "list",
    make: () => ({ id: "", kind: "parallel", over: "items", as: "item", concurrency: 4, body: { id: "body", kind: "transform", set: { value: "item" } } }) as FlowNode,
  },
  { kind: "loop", label: "Loop", result: null, make: () => ({ id: "", kind: "loop", body: "", max: 3 }) },
  { kind: "reflect", label: "Reflect", result: "string", make: () => ({ id: "", kind: "reflect", subject: "answer", criteria: ["is correct"], rounds: 2 }) },
  { kind: "human", label: "Human", result: "object", make: () => ({ id: "", kind: "human", prompt: "Approve?", mode: "approve" }) },
  { kind: "memory", label: "Memory", result: "any", make: () => ({ id: "", kind: "memory", op: "search", namespace: "notes", query: "{{ question }}", k: 3 }) },
  { kind: "transform", label: "Transform", result: null, make: () => ({ id: "", kind: "transform", set: {} }) },
  { kind: "subflow", label: "Subflow", result: "any", make: () => ({ id: "", kind: "subflow", flow: "other.flow.json", input: {} }) },
];

export function kindInfo(kind: Kind) {
  const found = KINDS.find((entry) => entry.kind === kind);
  if (!found) throw new Error(`unknown node kind ${kind}`);
  return found;
}

/** Outgoing handles of a node: routers have one per route plus the default, loops a body. */
export function sourceHandles(node: FlowNode): { id: string; label: string }[] {
  if (node.kind === "router") {
    return [
      ...node.routes.map((route, index) => ({ id: `route-${index}`, label: route.when })),
      { id: "default", label: "else" },
    ];
  }
  if (node.kind === "loop") return [{ id: "body", label: "body" }, { id: "next", label: "done" }];
  if (node.kind === "output") return [];
  return [{ id: "next", label: "" }];
}

export interface CanvasData extends Record<string, unknown> {
  node: FlowNode;
  status: NodeStatus;
  problems: Problem[];
  selected: boolean;
  /** How a compared version changed this node. */
  mark?: "added" | "changed" | "moved";
}

export type CanvasNode = Node<CanvasData, "flow">;

/** The canvas view of a flow: nodes with their problems and statuses, and every edge. */
export function toCanvas(
  flow: FlowDoc,
  problems: Problem[],
  statuses: Record<string, NodeStatus>,
  selected: string | null,
  marks: Record<string, "added" | "changed" | "moved"> = {},
): { nodes: CanvasNode[]; edges: Edge[] } {
  const nodes: CanvasNode[] = flow.nodes.map((node, index) => ({
    id: node.id,
    type: "flow",
    position: { x: node.position?.x ?? 0, y: node.position?.y ?? index * 120 },
    data: {
      node,
      status: statuses[node.id] ?? "idle",
      problems: problems.filter((problem) => problem.node === node.id),
      selected: node.id === selected,
      mark: marks[node.id],
    },
  }));
  const edges: Edge[] = [];
  for (const edge of flow.edges ?? []) {
    const from = flow.nodes.find((node) => node.id === edge.from);
    edges.push({
      id: `${edge.from}->${edge.to}`,
      source: edge.from,
      target: edge.to,
      sourceHandle: "next",
      animated: statuses[edge.to] === "running",
      label: from?.kind === "loop" ? "done" : undefined,
    });
  }
  for (const node of flow.nodes) {
    if (node.kind === "router") {
      node.routes.forEach((route, index) =>
        edges.push({ id: `${node.id}:route-${index}`, source: node.id, target: route.to, sourceHandle: `route-${index}`, label: route.when, animated: statuses[route.to] === "running" }),
      );
      if (node.default) {
        edges.push({ id: `${node.id}:default`, source: node.id, target: node.default, sourceHandle: "default", label: "else", animated: statuses[node.default] === "running" });
      }
    }
    if (node.kind === "loop" && node.body) {
      edges.push({ id: `${node.id}:body`, source: node.id, target: node.body, sourceHandle: "body", label: "body", animated: statuses[node.body] === "running" });
    }
  }
  return { nodes, edges };
}

/** A fresh id for a new node of `kind`. */
export function freshId(flow: FlowDoc, kind: Kind): string {
  const taken = new Set(flow.nodes.map((node) => node.id));
  for (let index = 1; ; index += 1) {
    const id = `${kind}-${index}`;
    if (!taken.has(id)) return id;
  }
}

export function addNode(flow: FlowDoc, kind: Kind, position: { x: number; y: number }): FlowDoc {
  const node = { ...kindInfo(kind).make(), id: freshId(flow, kind), position } as FlowNode;
  return { ...flow, nodes: [...flow.nodes, node] };
}

export function removeNode(flow: FlowDoc, id: string): FlowDoc {
  return {
    ...flow,
    nodes: flow.nodes.filter((node) => node.id !== id),
    edges: (flow.edges ?? []).filter((edge) => edge.from !== id && edge.to !== id),
  };
}

export function moveNode(flow: FlowDoc, id: string, position: { x: number; y: number }): FlowDoc {
  return { ...flow, nodes: flow.nodes.map((node) => (node.id === id ? { ...node, position } : node)) };
}

/** Replaces a node (its id may change: edges and references follow). */
export function replaceNode(flow: FlowDoc, id: string, next: FlowNode): FlowDoc {
  const rename = (target: string) => (target === id ? next.id : target);
  return {
    ...flow,
    nodes: flow.nodes.map((node) => {
      const updated = node.id === id ? next : node;
      if (updated.kind === "router") {
        return { ...updated, routes: updated.routes.map((route) => ({ ...route, to: rename(route.to) })), default: updated.default ? rename(updated.default) : updated.default };
      }
      if (updated.kind === "loop") return { ...updated, body: rename(updated.body) };
      return updated;
    }),
    edges: (flow.edges ?? []).map((edge) => ({ from: rename(edge.from), to: rename(edge.to) })),
  };
}

/** Connects `from` (through one of its handles) to `to`. */
export function connect(flow: FlowDoc, from: string, handle: string | null, to: string): FlowDoc {
  if (from === to) return flow;
  const source = flow.nodes.find((node) => node.id === from);
  if (!source) return flow;
  if (source.kind === "router" && handle && handle !== "next") {
    const updated =
      handle === "default"
        ? { ...source, default: to }
        : { ...source, routes: source.routes.map((route, index) => (`route-${index}` === handle ? { ...route, to } : route)) };
    return replaceNode(flow, from, updated);
  }
  if (source.kind === "loop" && handle === "body") return replaceNode(flow, from, { ...source, body: to });
  const edges = flow.edges ?? [];
  if (edges.some((edge) => edge.from === from && edge.to === to)) return flow;
  return { ...flow, edges: [...edges, { from, to }] };
}

/** Removes the canvas edge with this id. */
export function disconnect(flow: FlowDoc, edgeId: string): FlowDoc {
  const [owner = "", part] = edgeId.split(":");
  if (part !== undefined) {
    const node = flow.nodes.find((candidate) => candidate.id === owner);
    if (node?.kind === "router") {
      if (part === "default") return replaceNode(flow, owner, { ...node, default: undefined });
      const index = Number(part.replace("route-", ""));
      return replaceNode(flow, owner, { ...node, routes: node.routes.filter((_, position) => position !== index) });
    }
    if (node?.kind === "loop") return replaceNode(flow, owner, { ...node, body: "" });
    return flow;
  }
  return { ...flow, edges: (flow.edges ?? []).filter((edge) => `${edge.from}->${edge.to}` !== edgeId) };
}

/** Run state as its events arrive: node statuses, streamed text, the output. */
export interface RunView {
  runId: string | null;
  statuses: Record<string, NodeStatus>;
  /** What each waiting human node asks, and how (`approve` or `input`). */
  asks: Record<string, { prompt: string; mode: string }>;
  text: Record<string, string>;
  log: string[];
  finished: string | null;
}

export const EMPTY_RUN: RunView = { runId: null, statuses: {}, asks: {}, text: {}, log: [], finished: null };

/** The top-level node of a node path (`map/3` → `map`). */
function topNode(path: string | null | undefined): string | null {
  return path ? (path.split("/")[0] ?? null) : null;
}

export function applyEvent(view: RunView, event: RunEvent): RunView {
  const node = topNode(event.node);
  const kind = event.event;
  const statuses = { ...view.statuses };
  let text = view.text;
  let log = view.log;
  let finished = view.finished;
  let asks = view.asks;
  switch (kind.type) {
    case "runStarted":
      log = [...log, `${kind.mode} ${kind.flow}`];
      break;
    case "nodeStarted":
      if (node && event.node === node) statuses[node] = "running";
      break;
    case "token":
      if (node) text = { ...text, [node]: (text[node] ?? "") + kind.text };
      break;
    case "toolCall":
      log = [...log, `${event.node}: ${kind.tool} ${JSON.stringify(kind.arguments)}`];
      break;
    case "approvalRequested":
      if (node) {
        statuses[node] = "waiting";
        asks = { ...asks, [node]: { prompt: kind.prompt, mode: kind.mode } };
      }
      log = [...log, `${event.node} asks: ${kind.prompt}`];
      break;
    case "nodeFinished":
      if (node && event.node === node) statuses[node] = "done";
      break;
    case "nodeFailed":
      if (node && !kind.retrying) statuses[node] = "failed";
      log = [...log, `${event.node}: ${kind.error}`];
      break;
    case "budget":
      log = [...log, `${event.node ?? "run"}: ${kind.message}`];
      break;
    case "runFinished":
      finished = kind.status;
      if (kind.error) log = [...log, kind.error];
      break;
    default:
      break;
  }
  return { runId: event.run, statuses, asks, text, log, finished };
}

/** The run as it stood after the first `count` stored events (the replay timeline). */
export function viewAt(events: RunEvent[], count: number): RunView {
  return events.slice(0, count).reduce(applyEvent, EMPTY_RUN);
}

/** Short label of an event for the timeline. */
export function describeEvent(event: RunEvent): string {
  const kind = event.event;
  const where = event.node ? `${event.node} ` : "";
  switch (kind.type) {
    case "nodeFinished":
      return `${where}finished · ${Object.keys((kind.writes ?? {}) as object).join(", ") || "no writes"}`;
    case "nodeFailed":
      return `${where}failed · ${kind.error}`;
    case "runFinished":
      return `run ${kind.status}`;
    case "nodeStarted":
      return `${where}started (${kind.kind})`;
    case "budget":
      return `${where}${kind.message}`;
    default:
      return `${where}${kind.type}`;
  }
}

/** Adds a node of `kind` right after `after`: what followed `after` now follows
 * the new node, and the nodes below make room. */
export function insertAfter(flow: FlowDoc, kind: Kind, after: string): FlowDoc {
  const anchor = flow.nodes.find((node) => node.id === after);
  if (!anchor || anchor.kind === "output") {
    const y = Math.max(0, ...flow.nodes.map((node) => node.position?.y ?? 0)) + 120;
    return addNode(flow, kind, { x: anchor?.position?.x ?? 0, y });
  }
  const at = { x: anchor.position?.x ?? 0, y: anchor.position?.y ?? 0 };
  const id = freshId(flow, kind);
  const node = { ...kindInfo(kind).make(), id, position: { x: at.x, y: at.y + 120 } } as FlowNode;
  const moved = flow.nodes.map((other) => {
    const y = other.position?.y ?? null;
    return other.position && y !== null && y > at.y ? { ...other, position: { ...other.position, y: y + 120 } } : other;
  });
  const edges = (flow.edges ?? []).map((edge) => (edge.from === after ? { from: id, to: edge.to } : edge));
  return { ...flow, nodes: [...moved, node], edges: [...edges, { from: after, to: id }] };
}

/** Why `from` cannot be connected to `to`, or null when it can. */
export function connectionProblem(flow: FlowDoc, from: string | null, to: string | null): string | null {
  if (!from || !to) return null;
  if (from === to) return "a node cannot follow itself";
  const source = flow.nodes.find((node) => node.id === from);
  const target = flow.nodes.find((node) => node.id === to);
  if (!source || !target) return null;
  if (source.kind === "output") return "an output node ends the run: nothing follows it";
  if (target.kind === "input") return "an input node starts the run: nothing leads into it";
  if ((flow.edges ?? []).some((edge) => edge.from === from && edge.to === to)) return `${from} already leads to ${to}`;
  return null;
}

/** A copy of `node` with a fresh id, placed beside the original, unconnected. */
export function pasteNode(flow: FlowDoc, node: FlowNode): FlowDoc {
  const id = freshId(flow, node.kind);
  const at = { x: (node.position?.x ?? 0) + 260, y: node.position?.y ?? 0 };
  return { ...flow, nodes: [...flow.nodes, { ...node, id, position: at } as FlowNode] };
}

// Auto-layout of a flow with dagre (a maintained layered-graph layout): nodes
// in ranks from the input down, branches side by side. Pure: a flow in, the
// same flow with new positions out.
import dagre from "@dagrejs/dagre";

import type { FlowDoc } from "./flowGraph";

/** A canvas node's footprint (FlowNodeView is w-56, about 64 px high). */
const WIDTH = 224;
const HEIGHT = 64;

/** Every connection the canvas draws: plain edges, routes, defaults, loop bodies. */
function links(flow: FlowDoc): [string, string][] {
  const pairs: [string, string][] = (flow.edges ?? []).map((edge) => [edge.from, edge.to]);
  for (const node of flow.nodes) {
    if (node.kind === "router") {
      for (const route of node.routes) pairs.push([node.id, route.to]);
      if (node.default) pairs.push([node.id, node.default]);
    }
    if (node.kind === "loop" && node.body) pairs.push([node.id, node.body]);
  }
  const ids = new Set(flow.nodes.map((node) => node.id));
  return pairs.filter(([from, to]) => ids.has(from) && ids.has(to));
}

export function autoLayout(flow: FlowDoc): FlowDoc {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 56, marginx: 0, marginy: 0 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of flow.nodes) graph.setNode(node.id, { width: WIDTH, height: HEIGHT });
  for (const [from, to] of links(flow)) graph.setEdge(from, to);
  dagre.layout(graph);
  return {
    ...flow,
    nodes: flow.nodes.map((node) => {
      const placed = graph.node(node.id);
      return placed ? { ...node, position: { x: Math.round(placed.x - WIDTH / 2), y: Math.round(placed.y - HEIGHT / 2) } } : node;
    }),
  };
}

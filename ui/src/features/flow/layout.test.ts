import { describe, expect, it } from "vitest";

import type { FlowDoc, FlowNode } from "./flowGraph";
import { autoLayout } from "./layout";

const node = (fields: Record<string, unknown>) => ({ position: { x: 500, y: 500 }, ...fields }) as unknown as FlowNode;

describe("auto-layout", () => {
  it("stacks a chain from the input down and puts a router's branches side by side", () => {
    const flow: FlowDoc = {
      version: 2,
      name: "f",
      state: {},
      nodes: [
        node({ id: "in", kind: "input" }),
        node({ id: "pick", kind: "router", routes: [{ when: "x", to: "a" }], default: "b" }),
        node({ id: "a", kind: "transform", set: {} }),
        node({ id: "b", kind: "transform", set: {} }),
        node({ id: "out", kind: "output", keys: [] }),
      ],
      edges: [
        { from: "in", to: "pick" },
        { from: "a", to: "out" },
        { from: "b", to: "out" },
      ],
    };
    const laid = autoLayout(flow);
    const at = Object.fromEntries(laid.nodes.map((entry) => [entry.id, entry.position!]));
    expect(at.in!.y).toBeLessThan(at.pick!.y!);
    expect(at.pick!.y).toBeLessThan(at.a!.y!);
    expect(at.a!.y).toBe(at.b!.y);
    expect(Math.abs(at.a!.x! - at.b!.x!)).toBeGreaterThanOrEqual(224);
    expect(at.out!.y).toBeGreaterThan(at.a!.y!);
    // Only positions change.
    expect(laid.nodes.map(({ position: _position, ...rest }) => rest)).toEqual(flow.nodes.map(({ position: _position, ...rest }) => rest));
  });
});

import { describe, expect, it } from "vitest";

import type { SourceInfo, ToolRow } from "@/ipc/bindings";
import { effectsLabel, sourceLabel, toolsBySource } from "./toolsState";

const ready: SourceInfo = { name: "builtin", state: { state: "ready" }, tools: ["fs.read"], problems: [] };
const crashed: SourceInfo = {
  name: "mcp:github",
  state: { state: "restarting", message: "it stopped; restarting in 2 s" },
  tools: [],
  problems: [],
};

describe("tools state", () => {
  it("labels sources", () => {
    expect(sourceLabel(ready)).toEqual({ text: "ready · 1 tool", ok: true });
    expect(sourceLabel(crashed)).toEqual({ text: "restarting: it stopped; restarting in 2 s", ok: false });
  });

  it("describes effects", () => {
    expect(effectsLabel({ writes: false, runsCode: false, network: false })).toBe("reads only");
    expect(effectsLabel({ writes: true, runsCode: true, network: true })).toBe("writes files, runs code, reaches the network");
  });

  it("groups tools by source", () => {
    const tool: ToolRow = {
      name: "fs.read",
      description: "Reads",
      source: "builtin",
      permission: "allow",
      effects: { writes: false, runsCode: false, network: false },
      parameters: {},
    };
    expect(toolsBySource([ready, crashed], [tool])).toEqual([
      { source: ready, tools: [tool] },
      { source: crashed, tools: [] },
    ]);
  });
});

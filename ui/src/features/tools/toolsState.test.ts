import { describe, expect, it } from "vitest";

import type { SourceInfo, ToolRow } from "@/ipc/bindings";
import { EMPTY_SOURCE, effectsLabel, newToolSource, sourceDraftProblem, sourceLabel, toolsBySource } from "./toolsState";

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

describe("the add-source form", () => {
  it("says what is missing, per kind", () => {
    expect(sourceDraftProblem(EMPTY_SOURCE)).toMatch(/^Name/);
    expect(sourceDraftProblem({ ...EMPTY_SOURCE, name: "pets" })).toMatch(/^Spec/);
    expect(sourceDraftProblem({ ...EMPTY_SOURCE, name: "pets", target: "/specs/pets.yaml" })).toBeNull();
    expect(sourceDraftProblem({ ...EMPTY_SOURCE, kind: "mcp-url", name: "gh", target: "localhost:3000" })).toMatch(/^URL/);
    expect(sourceDraftProblem({ ...EMPTY_SOURCE, kind: "mcp-command", name: "fs", target: "npx server", env: "TOKEN=vault:GH\nnonsense" })).toMatch(/nonsense/);
    expect(sourceDraftProblem({ ...EMPTY_SOURCE, kind: "mcp-command", name: "fs", target: "npx server", env: "TOKEN=vault:GH\n" })).toBeNull();
  });

  it("sends each kind as the command takes it", () => {
    expect(newToolSource({ ...EMPTY_SOURCE, name: "pets", target: " ./pets.yaml ", bearer: "PETS" })).toEqual({ kind: "openapi", name: "pets", spec: "./pets.yaml", base_url: null, bearer: "PETS" });
    expect(newToolSource({ ...EMPTY_SOURCE, kind: "mcp-command", name: "fs", target: "npx -y server '/my dir'", env: "A=1\n\nB=vault:S" })).toEqual({
      kind: "mcp",
      name: "fs",
      command: "npx -y server '/my dir'",
      url: null,
      env: ["A=1", "B=vault:S"],
      bearer: null,
    });
    expect(newToolSource({ ...EMPTY_SOURCE, kind: "mcp-url", name: "gh", target: "https://mcp.example/mcp", env: "ignored=1" })).toEqual({ kind: "mcp", name: "gh", command: null, url: "https://mcp.example/mcp", env: [], bearer: null });
  });
});

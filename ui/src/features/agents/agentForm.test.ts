import { describe, expect, it } from "vitest";

import type { AgentPin, AgentVersion_Serialize as AgentVersion } from "@/ipc/bindings";
import { blankAgent, formFrom, formProblems, nextVersion, pinsOf, specFrom } from "./agentForm";

const agent = (name: string, version: string): AgentVersion => ({
  name,
  version,
  spec: { name, version, description: `${name} helps`, system: "Be brief.", tools: ["fs.list"], maxSteps: 3, memory: true },
});

const agents = [agent("planner", "1.0.0"), agent("planner", "1.10.0"), agent("planner", "1.2.0"), agent("helper", "0.1.0")];

describe("agent form", () => {
  it("proposes the next patch after the newest version (numerically, not as text)", () => {
    expect(nextVersion(agents, "planner")).toBe("1.10.1");
    expect(nextVersion(agents, "nobody")).toBe("1.0.0");
    const form = formFrom(agents[0]!, agents);
    expect(form).toMatchObject({ name: "planner", version: "1.10.1", tools: ["fs.list"], maxSteps: "3", memory: true, model: "" });
  });

  it("refuses a bad name, a taken or malformed version, an empty prompt and odd step limits", () => {
    expect(formProblems({ ...blankAgent, name: "ok-name", system: "x" }, agents)).toEqual({});
    const problems = formProblems({ ...blankAgent, name: "../x", version: "1.0", system: " ", maxSteps: "0" }, agents);
    expect(Object.keys(problems).sort()).toEqual(["maxSteps", "name", "system", "version"]);
    const taken = formProblems({ ...blankAgent, name: "planner", version: "1.2.0", system: "x" }, agents);
    expect(taken.version).toContain("1.10.1");
  });

  it("builds the spec the runtime publishes", () => {
    const spec = specFrom({ ...blankAgent, name: " helper ", version: "0.2.0", system: "Help.", model: "", contextProject: "docs", maxSteps: "5" });
    expect(spec).toEqual({ name: "helper", version: "0.2.0", description: "", system: "Help.", tools: [], contextProject: "docs", model: null, maxSteps: 5, memory: false });
  });

  it("marks the flows that pin an older version", () => {
    const pins: AgentPin[] = [
      { flow: "plan-execute", node: "plan", agent: "planner", version: "1.0.0" },
      { flow: "fresh", node: "p", agent: "planner", version: "1.10.0" },
      { flow: "other", node: "h", agent: "helper", version: "0.1.0" },
    ];
    expect(pinsOf(pins, agents, "planner").map((pin) => [pin.flow, pin.behind])).toEqual([
      ["plan-execute", true],
      ["fresh", false],
    ]);
  });
});

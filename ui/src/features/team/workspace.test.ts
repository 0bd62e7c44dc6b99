import { describe, expect, it } from "vitest";

import { session } from "./fixtures";
import { accessOf, allows, describeAccess, refusedBecause, switcherChoices } from "./workspace";

describe("workspace", () => {
  it("offers this machine, then each workspace once with its role", () => {
    expect(switcherChoices(null)).toEqual([{ value: "", label: "This machine" }]);
    expect(switcherChoices(session)).toEqual([
      { value: "", label: "This machine" },
      { value: "team", label: "127.0.0.1:7420 › team (executor)" },
      { value: "other", label: "127.0.0.1:7420 › other (creator)" },
    ]);
  });

  it("allows everything here and only the role's permissions on a server", () => {
    const here = accessOf({ server: null, account: null, workspace: null, role: null, permissions: [] });
    expect(here).toBeNull();
    expect(allows(here, "edit")).toBe(true);
    const team = accessOf({ server: session.server, account: "eve", workspace: "team", role: "executor", permissions: ["view", "run", "approve"] });
    expect(allows(team, "run")).toBe(true);
    expect(allows(team, "edit")).toBe(false);
    expect(refusedBecause(team, "edit flows")).toBe("your role in team (executor) cannot edit flows");
    expect(describeAccess(team!)).toBe("team on http://127.0.0.1:7420 — executor: may run, approve. Runs execute on the server.");
    const viewer = { server: session.server, workspace: "team", role: "viewer", permissions: ["view"] };
    expect(describeAccess(viewer)).toContain("viewer: view only");
  });
});

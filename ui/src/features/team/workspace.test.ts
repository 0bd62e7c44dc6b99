import { describe, expect, it } from "vitest";

import { session } from "./fixtures";
import { accessOf, allows, describeAccess, placeOf, placeValue, refusedBecause, switcherChoices } from "./workspace";

describe("workspace", () => {
  it("offers this machine, then each workspace of each server once with its role", () => {
    expect(switcherChoices([])).toEqual([{ value: "", label: "This machine" }]);
    const second = { server: "https://cx.example.org:8443", account: "eve", memberships: [{ workspace: "team", flow: null, role: "viewer", permissions: ["view"] }] };
    expect(switcherChoices([session, second])).toEqual([
      { value: "", label: "This machine" },
      { value: "http://127.0.0.1:7420 team", label: "127.0.0.1:7420 › team (executor)" },
      { value: "http://127.0.0.1:7420 other", label: "127.0.0.1:7420 › other (creator)" },
      { value: "https://cx.example.org:8443 team", label: "cx.example.org:8443 › team (viewer)" },
    ]);
  });

  it("keeps the open workspace listed while its server does not answer", () => {
    const open = { server: "https://cx.example.org:8443", workspace: "lab" };
    expect(switcherChoices([session], open).at(-1)).toEqual({ value: "https://cx.example.org:8443 lab", label: "cx.example.org:8443 › lab (not answering)" });
    expect(switcherChoices([session], { server: session.server, workspace: "team" })).toHaveLength(3);
  });

  it("names a place by its server and workspace, both ways", () => {
    const place = { server: "https://cx.example.org:8443", workspace: "team-2" };
    expect(placeOf(placeValue(place))).toEqual(place);
    expect(placeValue(null)).toBe("");
    expect(placeOf("")).toBeNull();
    expect(placeOf("team")).toBeNull();
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

import { describe, expect, it } from "vitest";

import { currentActions, filterActions, register, score, type Action } from "./actions";

const action = (id: string, title: string, group = "Flow", keywords?: string): Action => ({ id, title, group, keywords, run: () => undefined });

describe("command palette matching", () => {
  it("matches characters in order and prefers word starts", () => {
    expect(score("nf", "Flow New flow")).not.toBeNull();
    expect(score("xyz", "Flow New flow")).toBeNull();
    expect(score("", "anything")).toBe(0);
    expect(score("sv", "Flow Save")!).toBeGreaterThan(score("sv", "Flow Resolve")!);
  });

  it("ranks actions and finds them by keywords", () => {
    const actions = [action("a", "Auto-layout"), action("b", "Save"), action("c", "Open settings", "View", "preferences providers")];
    expect(filterActions(actions, "save").map((entry) => entry.id)).toEqual(["b"]);
    expect(filterActions(actions, "prefer").map((entry) => entry.id)).toEqual(["c"]);
    expect(filterActions(actions, "").map((entry) => entry.id)).toEqual(["a", "b", "c"]);
  });

  it("keeps each source's latest actions and drops them on unregister", () => {
    const stop = register("test", [action("x", "First")]);
    const stopSecond = register("test", [action("y", "Second")]);
    expect(currentActions().map((entry) => entry.id)).toEqual(["y"]);
    stop(); // an outdated unregister leaves the newer list alone
    expect(currentActions().map((entry) => entry.id)).toEqual(["y"]);
    stopSecond();
    expect(currentActions()).toEqual([]);
  });
});

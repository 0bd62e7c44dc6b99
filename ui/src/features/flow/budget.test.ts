import { describe, expect, it } from "vitest";

import { budgetFields, parseBudget } from "./budget";

describe("the flow budget form", () => {
  it("reads a flow's budget into fields and back", () => {
    const fields = budgetFields({ tokens: 5000, costUsd: 0.5, onExceed: "warn" });
    expect(fields).toEqual({ tokens: "5000", dollars: "0.5", onExceed: "warn" });
    expect(parseBudget(fields)).toEqual({ budget: { tokens: 5000, costUsd: 0.5, onExceed: "warn" } });
    expect(budgetFields(null)).toEqual({ tokens: "", dollars: "", onExceed: "stop" });
  });

  it("takes either limit alone, none at all, and refuses what is not a limit", () => {
    expect(parseBudget({ tokens: "", dollars: "$0.25", onExceed: "stop" })).toEqual({ budget: { costUsd: 0.25, onExceed: "stop" } });
    expect(parseBudget({ tokens: " ", dollars: "", onExceed: "stop" })).toEqual({ budget: null });
    expect(parseBudget({ tokens: "1.5", dollars: "", onExceed: "stop" })).toEqual({ error: "tokens: a whole number, 1 or more" });
    expect(parseBudget({ tokens: "0", dollars: "", onExceed: "stop" })).toHaveProperty("error");
    expect(parseBudget({ tokens: "", dollars: "-1", onExceed: "stop" })).toEqual({ error: "dollars: a number, 0 or more (e.g. 0.50)" });
    expect(parseBudget({ tokens: "", dollars: "abc", onExceed: "stop" })).toHaveProperty("error");
  });
});

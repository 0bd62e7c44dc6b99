import { describe, expect, it } from "vitest";

import type { CaseResult_Serialize as CaseResult, EvalReport_Serialize as EvalReport } from "@/ipc/bindings";
import { casesText, changeOf, datasetNameFor, failure, figures, lines, mark, progressText } from "./evals";

function result(id: string, passed: boolean, flaky = false): CaseResult {
  return {
    id,
    input: {},
    expected: null,
    metadata: {},
    attempts: [
      {
        runId: `run-${id}`,
        status: passed ? "succeeded" : "failed",
        output: null,
        error: passed ? undefined : "node `answer`: model: refused",
        latencyMs: 100,
        tokens: 10,
        costUsd: null,
        scores: [],
        score: passed ? 1 : 0,
        passed,
      },
    ],
    score: passed ? 1 : 0,
    stddev: 0,
    passed,
    flaky,
  } as CaseResult;
}

function report(withBaseline: boolean): EvalReport {
  return {
    format: "codexos-eval/1",
    id: "e1",
    flow: "qa",
    flowHash: "",
    dataset: "set.jsonl",
    datasetHash: "",
    mode: "replay",
    repeat: 1,
    startedAt: 0,
    finishedAt: 1,
    cases: [result("a", true), result("b", false)],
    summary: { cases: 2, passed: 1, flaky: 0, attempts: 2, passRate: 0.5, meanScore: 0.5, tokens: 200, costUsd: 0.02, latencyP50Ms: 900, latencyP95Ms: 1500 },
    comparison: withBaseline
      ? {
          baseline: "e0",
          baselineMode: "live",
          before: { cases: 2, passed: 2, flaky: 0, attempts: 2, passRate: 1, meanScore: 1, tokens: 100, costUsd: 0.01, latencyP50Ms: 1000, latencyP95Ms: 1500 },
          cases: [
            { id: "a", change: "unchanged", before: 1, after: 1, baselineRun: "r0", run: "run-a" },
            { id: "b", change: "regressed", before: 1, after: 0, baselineRun: "r1", run: "run-b" },
          ],
          improved: 0,
          regressed: 1,
        }
      : null,
    thresholds: [],
    ok: false,
  } as EvalReport;
}

describe("eval view", () => {
  it("marks cases and says why one failed", () => {
    expect(mark(result("a", true))).toBe("pass");
    expect(mark(result("b", false))).toBe("fail");
    expect(mark(result("c", false, true))).toBe("flaky");
    expect(failure(result("b", false))).toContain("refused");
    expect(failure(result("a", true))).toBe("");
  });

  it("shows figures against the baseline, worse ones flagged", () => {
    const shown = figures(report(true));
    const passed = shown.find((figure) => figure.label === "Passed");
    expect(passed).toMatchObject({ value: "1/2 (50%)", delta: "-0.500", worse: true });
    expect(shown.find((figure) => figure.label === "Cost")).toMatchObject({ delta: "+100.0%", worse: true });
    expect(shown.find((figure) => figure.label === "Latency p50 / p95")).toMatchObject({ value: "900 ms / 1.5 s", delta: "not compared in a replay", worse: false });
    const live = { ...report(true), mode: "live" } as EvalReport;
    expect(figures(live).find((figure) => figure.label === "Latency p50 / p95")).toMatchObject({ delta: "-10.0%" });
    const againstReplay = { ...live, comparison: live.comparison ? { ...live.comparison, baselineMode: "replay" } : null } as EvalReport;
    expect(figures(againstReplay).find((figure) => figure.label === "Latency p50 / p95")).toMatchObject({ delta: "not compared in a replay" });
    expect(figures(report(false)).every((figure) => figure.delta === null)).toBe(true);
    expect(changeOf(report(true), "b")).toBe("regressed");
    expect(changeOf(report(false), "b")).toBeNull();
  });

  it("reads the form's lines and names datasets", () => {
    expect(lines(" pass-rate=0.9 \n\n# note\nregressions=0\n")).toEqual(["pass-rate=0.9", "regressions=0"]);
    expect(progressText(null)).toBe("starting…");
    expect([casesText(1), casesText(2)]).toEqual(["1 case", "2 cases"]);
    expect(progressText({ evalId: "e", case: "a", done: 3, total: 8, passed: true, runId: "r" })).toBe("3 of 8 runs");
    expect(datasetNameFor("rag qa/v2")).toBe("rag-qa-v2-cases");
    expect(datasetNameFor("..")).toBe("runs-cases");
  });
});

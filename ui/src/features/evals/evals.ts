// What the evals view shows of an eval report: per-case marks, the summary
// against the baseline, progress, and the form's lines. Pure logic.
import type { CaseResult_Serialize as CaseResult, EvalReport_Serialize as EvalReport, CaseChangeKind, EvalProgress } from "@/ipc/bindings";
import { dollars } from "@/features/flow/runInspect";

export type Mark = "pass" | "fail" | "flaky";

/** A case's mark: every attempt passed, none or some. */
export function mark(result: CaseResult): Mark {
  if (result.passed) return "pass";
  return result.flaky ? "flaky" : "fail";
}

/** The non-empty, trimmed lines of a text box (thresholds, scorers). */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"));
}

/** A case's change against the baseline, when the report has one. */
export function changeOf(report: EvalReport, id: string): CaseChangeKind | null {
  return report.comparison?.cases.find((change) => change.id === id)?.change ?? null;
}

export const CHANGE_LABEL: Record<CaseChangeKind, string> = {
  improved: "⬆ improved",
  regressed: "⬇ regressed",
  unchanged: "= unchanged",
  new: "new",
  missing: "missing",
};

/** A score to two decimals, or a dash. */
export function score(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toFixed(2);
}

function ms(value: number | null): string {
  if (value === null) return "—";
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

function change(now: number, before: number, percent: boolean): string {
  if (!percent) {
    const delta = now - before;
    return delta === 0 ? "±0" : `${delta > 0 ? "+" : ""}${delta.toFixed(3)}`;
  }
  if (before === 0) return now === 0 ? "±0" : "new";
  const delta = (now / before - 1) * 100;
  return `${delta > 0 ? "+" : ""}${delta.toFixed(1)}%`;
}

export interface Figure {
  label: string;
  value: string;
  /** Against the baseline, when there is one. */
  delta: string | null;
  /** Whether the change is for the worse. */
  worse: boolean;
}

/** A total per run that ran (the total for a report that does not count them). */
function perRun(total: number, runs: number): number {
  return runs > 0 ? total / runs : total;
}

/** The report's headline figures, each with its change against the baseline:
 * cost and tokens per run (more repeats or cases are not a rise); a replay's
 * latency is not compared (its runs take no model time). */
export function figures(report: EvalReport): Figure[] {
  const now = report.summary;
  const before = report.comparison?.before ?? null;
  // Either side replayed: its runs took no model time.
  const replay = report.mode === "replay" || report.comparison?.baselineMode === "replay";
  const passRate = now.passRate ?? 0;
  const meanScore = now.meanScore ?? 0;
  const cost = now.costUsd ?? 0;
  const tokens = now.tokens ?? 0;
  const p50 = now.latencyP50Ms ?? 0;
  return [
    {
      label: "Passed",
      value: `${now.passed}/${now.cases} (${(passRate * 100).toFixed(0)}%)`,
      delta: before ? change(passRate, before.passRate ?? 0, false) : null,
      worse: before !== null && passRate < (before.passRate ?? 0),
    },
    {
      label: "Mean score",
      value: meanScore.toFixed(3),
      delta: before ? change(meanScore, before.meanScore ?? 0, false) : null,
      worse: before !== null && meanScore < (before.meanScore ?? 0) - 1e-9,
    },
    {
      label: "Cost",
      value: dollars(cost),
      delta: before ? change(perRun(cost, now.attempts), perRun(before.costUsd ?? 0, before.attempts), true) : null,
      worse: before !== null && perRun(cost, now.attempts) > perRun(before.costUsd ?? 0, before.attempts) + 1e-12,
    },
    {
      label: "Tokens",
      value: tokens.toLocaleString("en-US"),
      delta: before ? change(perRun(tokens, now.attempts), perRun(before.tokens ?? 0, before.attempts), true) : null,
      worse: before !== null && perRun(tokens, now.attempts) > perRun(before.tokens ?? 0, before.attempts),
    },
    {
      label: "Latency p50 / p95",
      value: `${ms(now.latencyP50Ms)} / ${ms(now.latencyP95Ms)}`,
      delta: before ? (replay ? "not compared in a replay" : change(p50, before.latencyP50Ms ?? 0, true)) : null,
      worse: before !== null && !replay && p50 > (before.latencyP50Ms ?? 0) * 1.2,
    },
    { label: "Flaky", value: String(now.flaky), delta: null, worse: now.flaky > 0 },
  ];
}

/** `1 case`, `3 cases`. */
export function casesText(count: number): string {
  return `${count} ${count === 1 ? "case" : "cases"}`;
}

/** `3 of 8 runs` while an eval runs. */
export function progressText(progress: EvalProgress | null): string {
  return progress ? `${progress.done} of ${progress.total} runs` : "starting…";
}

/** Why a case failed, in a line: its first failing attempt's error or scores. */
export function failure(result: CaseResult): string {
  const attempt = result.attempts.find((candidate) => !candidate.passed);
  if (!attempt) return "";
  if (attempt.error) return attempt.error;
  return attempt.scores
    .filter((verdict) => !verdict.passed)
    .map((verdict) => `${verdict.scorer}: ${verdict.reason}`)
    .join("; ");
}

/** A dataset name for a run added from the inspector: the flow's, made safe. */
export function datasetNameFor(flow: string): string {
  const safe = flow.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[-.]+/, "");
  return `${safe || "runs"}-cases`;
}

import { Channel } from "@tauri-apps/api/core";
import { FlaskConical, Loader2, Play, RefreshCw, Trash2, X } from "lucide-react";
import { useCallback, useEffect, useMemo, useState } from "react";

import { Button } from "@/components/ui/button";
import {
  commands,
  type DatasetInfo_Serialize as DatasetInfo,
  type DatasetView_Serialize as DatasetView,
  type EvalProgress,
  type EvalReport_Serialize as EvalReport,
  type EvalSummary,
  type FlowEntry_Serialize as FlowEntry,
} from "@/ipc/bindings";
import { requestId } from "@/ipc/client";
import { RunInspector } from "@/features/flow/RunInspector";
import { useEscape } from "@/features/layout/useEscape";
import { CHANGE_LABEL, casesText, changeOf, failure, figures, lines, mark, progressText, score } from "./evals";

const field = "h-7 w-full rounded border border-border bg-background px-1 text-xs text-foreground";
const MARK_CLASS = { pass: "text-emerald-800 dark:text-emerald-400", fail: "text-destructive", flaky: "text-amber-800 dark:text-amber-400" };

function Report({ report, onInspect }: { report: EvalReport; onInspect: (runId: string) => void }) {
  const [open, setOpen] = useState<string | null>(null);
  const [file, setFile] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const save = async () => {
    const result = await commands.evalExport(report.id, file);
    setSaved(result.status === "ok" ? `saved to ${result.data}: commit it as the CI check's baseline` : result.error.message);
  };
  return (
    <section className="flex flex-col gap-3" data-testid="eval-report" data-eval={report.id} data-ok={report.ok}>
      <div className="flex flex-wrap items-baseline gap-2">
        <h3 className="text-sm font-semibold">
          {report.flow} <span className="font-normal text-muted-foreground">on {report.dataset}</span>
        </h3>
        <span className={report.ok ? MARK_CLASS.pass : MARK_CLASS.fail} data-testid="eval-verdict">
          {report.ok ? "✓ thresholds held" : "✗ thresholds not met"}
        </span>
        <span className="text-muted-foreground">
          {report.mode} · ×{report.repeat} · {new Date((report.startedAt ?? 0) * 1000).toLocaleString()}
          {report.comparison ? ` · against ${report.comparison.baseline.slice(0, 8)}: ${report.comparison.improved} improved, ${report.comparison.regressed} regressed` : ""}
        </span>
      </div>
      <form
        className="flex flex-wrap items-center gap-1"
        aria-label="Save as a baseline file"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <input
          className="h-7 w-80 rounded border border-border bg-background px-1 text-xs text-foreground"
          aria-label="Baseline file to write (with the recorded calls)"
          data-testid="eval-export-path"
          placeholder="/path/to/repo/.codexos/baseline.json"
          value={file}
          onChange={(event) => setFile(event.target.value)}
        />
        <Button type="submit" size="sm" variant="outline" className="h-7" data-testid="eval-export" disabled={file.trim() === ""}>
          Save as baseline file
        </Button>
        {saved && (
          <span className="text-muted-foreground" role="status" data-testid="eval-exported">
            {saved}
          </span>
        )}
      </form>
      <div className="grid grid-cols-[repeat(auto-fill,minmax(8.5rem,1fr))] gap-2">
        {figures(report).map((figure) => (
          <div key={figure.label} className="rounded border border-border px-2 py-1.5" data-testid="eval-figure" data-label={figure.label}>
            <div className="text-[11px] text-muted-foreground">{figure.label}</div>
            <div className="whitespace-nowrap text-sm font-semibold">{figure.value}</div>
            {figure.delta !== null && (
              <div className={`text-[11px] ${figure.worse ? "text-destructive" : "text-muted-foreground"}`}>
                {figure.delta}
                {/^[-+±\d]|^new$/.test(figure.delta) ? " vs baseline" : ""}
              </div>
            )}
          </div>
        ))}
      </div>
      {(report.thresholds ?? []).length > 0 && (
        <ul className="text-xs" aria-label="Thresholds">
          {(report.thresholds ?? []).map((limit) => (
            <li key={`${limit.metric}=${limit.limit}`} className={limit.held ? "" : "text-destructive"}>
              {limit.held ? "✓" : "✗"} {limit.metric} {limit.limit} (is {limit.actual})
            </li>
          ))}
        </ul>
      )}
      <table className="w-full text-xs" data-testid="eval-cases">
        <thead className="text-left text-muted-foreground">
          <tr>
            <th className="font-normal">Case</th>
            <th className="font-normal">Result</th>
            <th className="text-right font-normal">Score</th>
            <th className="pl-3 font-normal">Change</th>
            <th className="pl-3 font-normal">Why</th>
            <th className="font-normal">Runs</th>
          </tr>
        </thead>
        <tbody>
          {report.cases.map((result) => {
            const shown = mark(result);
            const change = changeOf(report, result.id);
            return [
              <tr key={result.id} className="border-t border-border align-top" data-testid="eval-case" data-case={result.id} data-mark={shown}>
                <td className="py-0.5">
                  <button type="button" className="font-mono underline-offset-2 hover:underline" aria-expanded={open === result.id} onClick={() => setOpen(open === result.id ? null : result.id)}>
                    {result.id}
                  </button>
                </td>
                <td className={MARK_CLASS[shown]}>{shown}</td>
                <td className="text-right">
                  {score(result.score)}
                  {report.repeat > 1 ? ` ± ${score(result.stddev)}` : ""}
                </td>
                <td className={`whitespace-nowrap pl-3 ${change === "regressed" ? "text-destructive" : "text-muted-foreground"}`}>{change ? CHANGE_LABEL[change] : ""}</td>
                <td className="max-w-[24rem] truncate pl-3 text-muted-foreground" title={failure(result)}>
                  {failure(result)}
                </td>
                <td className="whitespace-nowrap">
                  {result.attempts.map((attempt) =>
                    attempt.runId ? (
                      <button key={attempt.runId} type="button" className="mr-1 font-mono underline" data-testid="eval-run" onClick={() => onInspect(attempt.runId)} title="Open the run's trace">
                        {attempt.runId.slice(0, 8)}
                      </button>
                    ) : null,
                  )}
                </td>
              </tr>,
              open === result.id && (
                <tr key={`${result.id}-detail`} data-testid="eval-case-detail">
                  <td colSpan={6} className="bg-muted/40 p-2">
                    {result.attempts.map((attempt, index) => (
                      <div key={`${attempt.runId}-${index}`} className="mb-2">
                        <div className="text-muted-foreground">
                          #{index + 1} · {attempt.status} · {attempt.latencyMs ?? 0} ms · {attempt.tokens ?? 0} tokens
                        </div>
                        <ul>
                          {attempt.scores.map((verdict) => (
                            <li key={verdict.scorer} className={verdict.passed ? "" : "text-destructive"}>
                              {verdict.passed ? "✓" : "✗"} {verdict.scorer} {score(verdict.score)} — {verdict.reason}
                              {verdict.runId && (
                                <button type="button" className="ml-1 font-mono underline" onClick={() => onInspect(verdict.runId ?? "")}>
                                  judge run
                                </button>
                              )}
                            </li>
                          ))}
                        </ul>
                        <pre tabIndex={0} aria-label={`Output of attempt ${index + 1}`} className="mt-1 max-h-32 overflow-auto whitespace-pre-wrap rounded bg-background p-1 font-mono text-[11px]">{JSON.stringify(attempt.output, null, 2)}</pre>
                      </div>
                    ))}
                    <div className="text-muted-foreground">
                      expected: <span className="font-mono">{JSON.stringify(result.expected ?? null)}</span>
                    </div>
                  </td>
                </tr>
              ),
            ];
          })}
        </tbody>
      </table>
    </section>
  );
}

/** A server's workspace the Evals panel works in. */
export interface EvalsPlace {
  /** "team on https://…" */
  label: string;
  /** The role may run flows (start an eval). */
  canRun: boolean;
  /** The role may edit (import, delete). */
  canEdit: boolean;
}

/**
 * Evals: run a flow over a dataset (live, or replayed from a baseline's
 * recording), the stored reports with per-case scores and their traces, and
 * the data home's datasets — or, with a server's workspace open (`server`),
 * its flows, datasets and evals there, with what the role may do.
 */
export function EvalsPanel({ project, server = null, onClose }: { project: string | null; server?: EvalsPlace | null; onClose: () => void }) {
  const mayRun = server === null || server.canRun;
  const mayEdit = server === null || server.canEdit;
  const [flows, setFlows] = useState<FlowEntry[]>([]);
  const [sets, setSets] = useState<DatasetInfo[]>([]);
  const [evals, setEvals] = useState<EvalSummary[]>([]);
  const [flow, setFlow] = useState("");
  const [dataset, setDataset] = useState("");
  const [repeat, setRepeat] = useState(1);
  const [baseline, setBaseline] = useState("");
  const [replay, setReplay] = useState(false);
  const [scorers, setScorers] = useState("");
  const [thresholds, setThresholds] = useState("");
  const [running, setRunning] = useState<string | null>(null);
  const [progress, setProgress] = useState<EvalProgress | null>(null);
  const [report, setReport] = useState<EvalReport | null>(null);
  const [viewing, setViewing] = useState<DatasetView | null>(null);
  const [inspecting, setInspecting] = useState<string | null>(null);
  const [focus, setFocus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEscape(useCallback(() => (inspecting ? setInspecting(null) : onClose()), [inspecting, onClose]));

  const refresh = useCallback(async () => {
    const [library, datasets, stored] = await Promise.all([commands.flowLibrary(), commands.datasets(), commands.evals(null)]);
    if (library.status === "ok") setFlows(library.data.filter((entry) => entry.flow));
    if (datasets.status === "ok") setSets(datasets.data);
    else setError(datasets.error.message);
    if (stored.status === "ok") setEvals(stored.data);
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  useEffect(() => {
    if (!flow && flows.length > 0) setFlow(flows[0]?.path ?? "");
    if (!dataset && sets.length > 0) setDataset(sets.find((set) => set.cases !== null)?.name ?? "");
  }, [flows, sets, flow, dataset]);

  const flowName = flows.find((entry) => entry.path === flow)?.name ?? "";
  const baselines = useMemo(() => evals.filter((stored) => stored.flow === flowName), [evals, flowName]);

  const open = async (id: string) => {
    setError(null);
    const result = await commands.evalReport(id);
    if (result.status === "ok") setReport(result.data);
    else setError(result.error.message);
  };
  const run = async () => {
    const id = requestId("eval");
    setRunning(id);
    setProgress(null);
    setError(null);
    const onProgress = new Channel<EvalProgress>();
    onProgress.onmessage = setProgress;
    try {
      const result = await commands.evalRun(
        id,
        { flow, dataset, repeat, baseline: baseline || null, replay: replay && baseline !== "", scorers: lines(scorers), thresholds: lines(thresholds), project },
        onProgress,
      );
      if (result.status === "ok") setReport(result.data);
      else setError(result.error.message);
    } finally {
      setRunning(null);
      void refresh();
    }
  };
  const view = async (name: string) => {
    const result = await commands.dataset(name);
    if (result.status === "ok") setViewing(result.data);
    else setError(result.error.message);
  };
  const [importPath, setImportPath] = useState("");
  const importSet = async () => {
    setError(null);
    const result = await commands.datasetImport(importPath, null);
    if (result.status !== "ok") return setError(result.error.message);
    setSets(result.data);
    setImportPath("");
  };
  const removeSet = async (name: string) => {
    if (!window.confirm(`Delete dataset ${name}? Its file is removed; evals that used it stay.`)) return;
    const result = await commands.datasetDelete(name);
    if (result.status === "ok") setSets(result.data);
    else setError(result.error.message);
    if (viewing?.name === name) setViewing(null);
  };
  const removeEval = async (id: string) => {
    const result = await commands.evalDelete(id);
    if (result.status === "ok") setEvals(result.data);
    else setError(result.error.message);
    if (report?.id === id) setReport(null);
  };

  return (
    <div className="absolute inset-0 z-20 flex flex-col bg-background text-xs" data-testid="evals-panel" role="dialog" aria-label="Evals">
      <div className="flex items-center gap-2 border-b border-border px-4 py-2">
        <FlaskConical className="size-4 text-muted-foreground" />
        <h2 className="text-sm font-semibold">Evals</h2>
        <span className="text-muted-foreground" data-testid="evals-where">
          a flow over a dataset, scored and compared with a baseline{server ? ` · in ${server.label}` : ""}
        </span>
        <Button size="sm" variant="ghost" className="h-7" aria-label="Refresh" onClick={() => void refresh()}>
          <RefreshCw className="size-3.5" />
        </Button>
        <Button size="icon" variant="ghost" className="ml-auto size-7" aria-label="Close evals" onClick={onClose}>
          <X className="size-4" />
        </Button>
      </div>
      {error && (
        <div className="border-b border-border px-4 py-1 text-destructive" role="alert">
          {error}
        </div>
      )}
      <div className="flex min-h-0 flex-1">
        <div className="flex w-80 shrink-0 flex-col gap-4 overflow-y-auto border-r border-border p-3">
          <form
            className="flex flex-col gap-2"
            aria-label="Run an eval"
            onSubmit={(event) => {
              event.preventDefault();
              void run();
            }}
          >
            <h3 className="text-xs font-semibold">Run an eval</h3>
            <label className="flex flex-col gap-0.5">
              Flow
              <select className={field} data-testid="eval-flow" value={flow} onChange={(event) => setFlow(event.target.value)} required>
                {flows.map((entry) => (
                  <option key={entry.path} value={entry.path}>
                    {entry.name}
                  </option>
                ))}
              </select>
            </label>
            <label className="flex flex-col gap-0.5">
              Dataset
              <select className={field} data-testid="eval-dataset" value={dataset} onChange={(event) => setDataset(event.target.value)} required>
                <option value="" disabled>
                  {sets.length === 0 ? "no datasets yet" : "pick a dataset"}
                </option>
                {sets.map((set) => (
                  <option key={set.name} value={set.name} disabled={set.cases === null}>
                    {set.name} ({set.cases === null ? "unreadable" : casesText(set.cases)})
                  </option>
                ))}
              </select>
            </label>
            <div className="flex gap-2">
              <label className="flex w-20 flex-col gap-0.5">
                Repeat
                <input type="number" min={1} max={100} className={field} data-testid="eval-repeat" value={repeat} onChange={(event) => setRepeat(Math.max(1, Number(event.target.value) || 1))} />
              </label>
              <label className="flex min-w-0 flex-1 flex-col gap-0.5">
                Baseline
                <select className={field} data-testid="eval-baseline" value={baseline} onChange={(event) => setBaseline(event.target.value)}>
                  <option value="">none</option>
                  {baselines.map((stored) => (
                    <option key={stored.id} value={stored.id}>
                      {stored.id.slice(0, 8)} · {stored.passed}/{stored.cases} · {new Date((stored.startedAt ?? 0) * 1000).toLocaleDateString()}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <label className="flex items-center gap-1" title="Answer every model and tool call from the baseline's recording: no model, no network, no key">
              <input type="checkbox" data-testid="eval-replay" checked={replay} disabled={baseline === ""} onChange={(event) => setReplay(event.target.checked)} />
              Replay from the baseline (no model, no key)
            </label>
            <label className="flex flex-col gap-0.5">
              Scorers (one per line; default: exact)
              <textarea className="h-14 rounded border border-border bg-background p-1 font-mono" data-testid="eval-scorers" placeholder={'contains\n{"type":"judge","rubric":"Cites a file."}'} value={scorers} onChange={(event) => setScorers(event.target.value)} spellCheck={false} />
            </label>
            <label className="flex flex-col gap-0.5">
              Thresholds (one per line)
              <textarea className="h-12 rounded border border-border bg-background p-1 font-mono" data-testid="eval-thresholds" placeholder={"pass-rate=0.9\nregressions=0"} value={thresholds} onChange={(event) => setThresholds(event.target.value)} spellCheck={false} />
            </label>
            <div className="flex items-center gap-2">
              <Button
                type="submit"
                size="sm"
                data-testid="eval-start"
                disabled={running !== null || !flow || !dataset || !mayRun}
                title={mayRun ? undefined : "Your role in this workspace may not run flows"}
              >
                {running ? <Loader2 className="size-3.5 animate-spin" /> : <Play className="size-3.5" />} Run eval
              </Button>
              {running && (
                <>
                  <span className="text-muted-foreground" data-testid="eval-progress" role="status">
                    {progressText(progress)}
                  </span>
                  <Button type="button" size="sm" variant="ghost" onClick={() => void commands.cancel(running)}>
                    Stop
                  </Button>
                </>
              )}
            </div>
          </form>
          <section aria-label="Datasets">
            <h3 className="mb-1 text-xs font-semibold">Datasets</h3>
            {mayEdit && (
            <form
              className="mb-2 flex gap-1"
              aria-label="Import a dataset"
              onSubmit={(event) => {
                event.preventDefault();
                void importSet();
              }}
            >
              <input
                className={field}
                aria-label="Dataset file to import (.jsonl or .csv)"
                data-testid="dataset-import-path"
                placeholder="/path/to/cases.jsonl or .csv"
                value={importPath}
                onChange={(event) => setImportPath(event.target.value)}
              />
              <Button type="submit" size="sm" variant="outline" className="h-7" data-testid="dataset-import" disabled={importPath.trim() === ""}>
                Import
              </Button>
            </form>
            )}
            {sets.length === 0 ? (
              <p className="text-muted-foreground" data-testid="datasets-empty">
                {server
                  ? "None yet. Open a run (Analytics, or the canvas's run list) and press “Add to dataset”, or import a .jsonl or .csv file of this machine above."
                  : "None yet. Open a run (Analytics, or the canvas's run list) and press “Add to dataset”, or put a .jsonl or .csv file in the data home's datasets folder."}
              </p>
            ) : (
              <ul data-testid="datasets">
                {sets.map((set) => (
                  <li key={set.name} className="flex items-center gap-1" data-testid="dataset" data-name={set.name}>
                    <button type="button" className="truncate font-mono underline-offset-2 hover:underline" onClick={() => void view(set.name)} title={set.problem ?? set.path}>
                      {set.name}
                    </button>
                    <span className={set.cases === null ? "text-destructive" : "text-muted-foreground"}>{set.cases === null ? "unreadable" : casesText(set.cases)}</span>
                    {mayEdit && (
                      <Button size="icon" variant="ghost" className="ml-auto size-6" aria-label={`Delete dataset ${set.name}`} onClick={() => void removeSet(set.name)}>
                        <Trash2 className="size-3.5" />
                      </Button>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
        <div className="min-w-0 flex-1 overflow-y-auto p-4">
          {viewing && (
            <section className="mb-4 rounded border border-border p-2" data-testid="dataset-view" aria-label={`Dataset ${viewing.name}`}>
              <div className="mb-1 flex items-center gap-2">
                <h3 className="font-semibold">
                  {viewing.name} <span className="font-normal text-muted-foreground">{viewing.path}</span>
                </h3>
                <Button size="icon" variant="ghost" className="ml-auto size-6" aria-label="Close the dataset" onClick={() => setViewing(null)}>
                  <X className="size-3.5" />
                </Button>
              </div>
              <table className="w-full">
                <thead className="text-left text-muted-foreground">
                  <tr>
                    <th className="font-normal">Case</th>
                    <th className="font-normal">Input</th>
                    <th className="font-normal">Expected</th>
                  </tr>
                </thead>
                <tbody>
                  {viewing.cases.map((item) => (
                    <tr key={item.id} className="border-t border-border">
                      <td className="font-mono">{item.id}</td>
                      <td className="max-w-[20rem] truncate font-mono">{JSON.stringify(item.input)}</td>
                      <td className="max-w-[20rem] truncate font-mono">{JSON.stringify(item.expected ?? null)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          {report ? (
            <>
              <Button size="sm" variant="ghost" className="mb-2 h-7 px-2" onClick={() => setReport(null)}>
                ← All evals
              </Button>
              <Report report={report} onInspect={setInspecting} />
            </>
          ) : evals.length === 0 ? (
            <p className="text-sm text-muted-foreground" data-testid="evals-empty">
              No evals yet. Pick a flow and a dataset and press “Run eval”; each case runs as a normal run with its trace, and the report can be the baseline of the next eval (or of a CI check: see the README).
            </p>
          ) : (
            <table className="w-full" data-testid="evals">
              <thead className="text-left text-muted-foreground">
                <tr>
                  <th className="font-normal">Eval</th>
                  <th className="font-normal">Flow</th>
                  <th className="font-normal">Dataset</th>
                  <th className="font-normal">Mode</th>
                  <th className="text-right font-normal">Passed</th>
                  <th className="font-normal">Verdict</th>
                  <th className="font-normal">When</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {evals.map((stored) => (
                  <tr key={stored.id} className="border-t border-border">
                    <td>
                      <button type="button" className="font-mono underline-offset-2 hover:underline" data-testid="eval-open" data-eval={stored.id} onClick={() => void open(stored.id)}>
                        {stored.id.slice(0, 8)}
                      </button>
                    </td>
                    <td>{stored.flow}</td>
                    <td className="max-w-[14rem] truncate">{stored.dataset}</td>
                    <td>{stored.mode}</td>
                    <td className="text-right">
                      {stored.passed}/{stored.cases}
                    </td>
                    <td className={stored.ok ? MARK_CLASS.pass : MARK_CLASS.fail}>{stored.ok ? "held" : "not met"}</td>
                    <td className="text-muted-foreground">{new Date((stored.startedAt ?? 0) * 1000).toLocaleString()}</td>
                    <td>
                      {mayEdit && (
                        <Button size="icon" variant="ghost" className="size-6" aria-label={`Delete eval ${stored.id.slice(0, 8)}`} onClick={() => void removeEval(stored.id)}>
                          <Trash2 className="size-3.5" />
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      {inspecting && <RunInspector key={inspecting} runId={inspecting} focus={focus} onFocus={setFocus} onClose={() => setInspecting(null)} onEvent={() => {}} onNewRun={setInspecting} />}
    </div>
  );
}

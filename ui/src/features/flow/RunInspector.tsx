import { Channel } from "@tauri-apps/api/core";
import { GitFork, ListPlus, Play, RotateCcw } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type LlmSettings, type NodeTrace, type ReplayReport, type RunComparison_Serialize as RunComparison, type RunDetail, type RunEvent, type RunSummary } from "@/ipc/bindings";
import { requestId } from "@/ipc/client";
import { datasetNameFor } from "@/features/evals/evals";
import { modelChoices } from "@/features/settings/settingsState";
import { allows, refusedBecause, type Access } from "@/features/team/workspace";
import { RunCompare } from "./RunCompare";
import { SidePanel } from "./SidePanel";
import { callUsage, dollars, duration, firstDivergence, nodeStatus, pretty, usageText, viewCall, type CallUsageView, type CallView } from "./runInspect";

const BLOCK = "max-h-48 overflow-auto whitespace-pre-wrap break-words rounded border border-border bg-background p-1.5 font-mono text-[11px]";
const STATUS_TEXT = { done: "text-emerald-800 dark:text-emerald-400", failed: "text-destructive", unfinished: "text-muted-foreground" };

function UsageLine({ usage }: { usage: CallUsageView }) {
  const parts = [`${usage.prompt} in → ${usage.completion} out tokens`];
  if (usage.cached > 0) parts.push(`${usage.cached} cached`);
  parts.push(`${usage.latencyMs} ms`);
  if (usage.firstTokenMs !== null) parts.push(`first token ${usage.firstTokenMs} ms`);
  if (usage.cost !== null) parts.push(dollars(usage.cost));
  else if (usage.unpriced) parts.push("unpriced (add [[prices]] to config.toml)");
  return (
    <div className="text-[11px] text-muted-foreground" data-testid="inspector-call-usage">
      {parts.join(" · ")}
      {usage.attempts.length > 1 && <div className="text-amber-800 dark:text-amber-400">tried: {usage.attempts.join(" → ")}</div>}
    </div>
  );
}

function Call({ view, index, usage }: { view: CallView; index: number; usage: CallUsageView | null }) {
  return (
    <div className="flex flex-col gap-1 rounded border border-border p-1.5" data-testid="inspector-call" data-kind={view.kind === "other" ? view.label : view.kind}>
      <div className="text-[11px] font-medium">
        #{index + 1} {view.kind === "model" ? `model ${view.model}` : view.kind === "tool" ? `tool ${view.tool}` : view.label}
      </div>
      {usage && <UsageLine usage={usage} />}
      {view.kind === "model" && (
        <>
          {view.messages.map((message, position) => (
            <div key={position}>
              <div className="text-[10px] uppercase text-muted-foreground">{message.role}</div>
              <div className={BLOCK} data-testid="inspector-prompt">
                {message.content}
              </div>
            </div>
          ))}
          <div className="text-[10px] uppercase text-muted-foreground">answer</div>
          <div className={BLOCK} data-testid="inspector-answer">
            {view.answer}
          </div>
        </>
      )}
      {view.kind === "tool" && (
        <>
          <div className="text-[10px] uppercase text-muted-foreground">arguments</div>
          <div className={BLOCK}>{pretty(view.arguments)}</div>
          <div className="text-[10px] uppercase text-muted-foreground">result</div>
          <div className={BLOCK}>{pretty(view.result)}</div>
        </>
      )}
      {view.kind === "other" && (
        <>
          <div className="text-[10px] uppercase text-muted-foreground">request</div>
          <div className={BLOCK}>{pretty(view.request)}</div>
          <div className="text-[10px] uppercase text-muted-foreground">response</div>
          <div className={BLOCK}>{pretty(view.response)}</div>
        </>
      )}
      {view.error && (
        <div className="text-destructive" role="alert">
          {view.error}
        </div>
      )}
    </div>
  );
}

/** One node of the run: status, timing, writes, calls, and a fork from it. */
function NodeDetail({ trace, onFork, busy }: { trace: NodeTrace; onFork: ((edits: string) => void) | null; busy: boolean }) {
  const [edits, setEdits] = useState("{}");
  const took = duration(trace);
  const usage = usageText(trace.usage);
  return (
    <div className="flex flex-col gap-2" data-testid="inspector-node">
      <div className="flex flex-wrap items-baseline gap-x-2 text-xs">
        <span className="font-mono font-semibold">{trace.node}</span>
        <span className="text-muted-foreground">{trace.kind ?? ""}</span>
        <span className={STATUS_TEXT[nodeStatus(trace)]}>{nodeStatus(trace)}</span>
        {took !== null && <span className="text-muted-foreground">{took} ms</span>}
        {trace.attempts > 1 && <span className="text-amber-800 dark:text-amber-400">{trace.attempts} attempts</span>}
        {trace.next.length > 0 && <span className="text-muted-foreground">→ {trace.next.join(", ")}</span>}
      </div>
      {usage && (
        <div className="text-[11px] text-muted-foreground" data-testid="inspector-usage">
          {usage}
        </div>
      )}
      {trace.error && (
        <div className="text-xs text-destructive" role="alert">
          {trace.error}
        </div>
      )}
      <div>
        <div className="text-[10px] uppercase text-muted-foreground">wrote</div>
        <div className={BLOCK} data-testid="inspector-writes">
          {pretty(trace.writes)}
        </div>
      </div>
      {trace.calls.map((call, index) => (
        <Call key={`${call.path}-${call.index}-${index}`} view={viewCall(call)} index={index} usage={call.kind === "model" ? callUsage(call) : null} />
      ))}
      {trace.calls.length === 0 && <div className="text-[11px] text-muted-foreground">no model, tool, retrieval, memory or human calls</div>}
      {onFork && (
      <details className="text-xs">
        <summary className="cursor-pointer text-muted-foreground">Fork from here with edited state…</summary>
        <div className="mt-1 flex flex-col gap-1">
          <textarea
            aria-label="State edits (JSON object)"
            data-testid="fork-edits"
            className="h-16 rounded border border-border bg-background p-1.5 font-mono text-[11px]"
            value={edits}
            onChange={(event) => setEdits(event.target.value)}
            spellCheck={false}
          />
          <Button size="sm" variant="outline" data-testid="fork-run" disabled={busy} onClick={() => onFork(edits)}>
            <GitFork className="size-3.5" /> Fork a new run from {trace.node}
          </Button>
        </div>
      </details>
      )}
    </div>
  );
}

/** Everything stored about a run, node by node, with replay, live re-run
 * (compared with the recording), resume and fork. */
export function RunInspector({
  runId,
  focus,
  onFocus,
  onClose,
  onEvent,
  onNewRun,
  access = null,
}: {
  access?: Access | null;
  runId: string;
  focus: string | null;
  onFocus: (node: string) => void;
  onClose: () => void;
  onEvent: (event: RunEvent) => void;
  onNewRun: (runId: string) => void;
}) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<{ live: boolean; data: ReplayReport } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [llm, setLlm] = useState<LlmSettings | null>(null);
  const [model, setModel] = useState("");
  const [others, setOthers] = useState<RunSummary[]>([]);
  const [comparison, setComparison] = useState<RunComparison | null>(null);
  const [datasets, setDatasets] = useState<string[]>([]);
  const [target, setTarget] = useState("");
  const [added, setAdded] = useState<string | null>(null);

  const load = useCallback(() => {
    void commands.runDetail(runId).then((result) => (result.status === "ok" ? setDetail(result.data) : setError(result.error.message)));
  }, [runId]);
  useEffect(() => {
    load();
    void commands.llmSettings().then((result) => result.status === "ok" && setLlm(result.data));
  }, [load]);
  const flowName = detail?.summary.flow;
  useEffect(() => {
    setComparison(null);
    if (!flowName) return;
    void commands.runs(flowName).then((result) => result.status === "ok" && setOthers(result.data.filter((other) => other.id !== runId)));
  }, [flowName, runId, report]);

  useEffect(() => {
    void commands.datasets().then((result) => result.status === "ok" && setDatasets(result.data.map((set) => set.name)));
  }, [added]);
  const dataset = target.trim() || (flowName ? datasetNameFor(flowName) : "runs-cases");
  const addToDataset = async () => {
    setError(null);
    setAdded(null);
    const result = await commands.datasetAddRun(runId, dataset, null);
    if (result.status === "ok") setAdded(`added as case ${result.data.id} of dataset ${dataset}`);
    else setError(result.error.message);
  };

  const compare = async (other: string) => {
    if (!other) return;
    setError(null);
    const result = await commands.runCompare(runId, other);
    if (result.status === "ok") setComparison(result.data);
    else setError(result.error.message);
  };

  const channel = () => {
    const events = new Channel<RunEvent>();
    events.onmessage = onEvent;
    return events;
  };
  const replay = async (live: boolean) => {
    const id = requestId(live ? "rerun" : "replay");
    setBusy(id);
    setError(null);
    setReport(null);
    try {
      // A server's re-run uses the recorded models (this machine's list is not the server's).
      const result = await commands.runReplay(id, runId, live, live && !access ? model || null : null, channel());
      if (result.status === "ok") setReport({ live, data: result.data });
      else setError(result.error.message);
    } finally {
      setBusy(null);
    }
  };
  const resume = async () => {
    const id = requestId("resume");
    setBusy(id);
    try {
      const result = await commands.runResume(id, runId, null, channel());
      if (result.status !== "ok") setError(result.error.message);
      else if (result.data.error) setError(result.data.error);
      load();
    } finally {
      setBusy(null);
    }
  };
  const fork = async (node: string, edits: string) => {
    const id = requestId("fork");
    setBusy(id);
    setError(null);
    try {
      const result = await commands.runFork(id, runId, node, edits.trim() || "{}", channel());
      if (result.status !== "ok") return setError(result.error.message);
      if (result.data.error) setError(result.data.error);
      onNewRun(result.data.runId);
    } finally {
      setBusy(null);
    }
  };

  const status = detail?.summary.status;
  const resumable = status !== undefined && status !== "succeeded" && status !== "paused";
  const diverged = report ? firstDivergence(report.data.nodes) : null;
  const shown = detail?.nodes.find((trace) => trace.node === focus) ?? detail?.nodes[0] ?? null;

  return (
    <SidePanel
      testId="run-inspector"
      label={`Run ${runId}`}
      closeLabel="Close run inspector"
      error={error}
      onClose={onClose}
      wide={comparison !== null}
      title={
        <>
          <span className="font-semibold">Run {runId.slice(0, 8)}</span>
          <span className="text-muted-foreground" data-testid="inspector-status">
            {status ?? "…"}
            {detail?.forkedFrom ? ` · forked from ${detail.forkedFrom[0].slice(0, 8)} at ${detail.forkedFrom[1]}` : ""}
          </span>
          {detail && detail.usage.modelCalls > 0 && (
            <span className="text-muted-foreground" data-testid="run-usage">
              {usageText(detail.usage)}
            </span>
          )}
        </>
      }
    >
      <div className="flex flex-wrap items-center gap-1 border-b border-border px-2 py-1.5">
        {detail?.exchange && (
          <span className="text-xs text-muted-foreground" data-testid="run-exchange">
            {detail.exchange === "ask" ? "An ask" : "A chat turn"}, kept for its trace — {detail.exchange} again to run it anew.
          </span>
        )}
        {access && (
          <span className="text-xs text-muted-foreground" data-testid="run-on-server">
            A run on {access.workspace}: replays, re-runs and forks run there, on its models; datasets take this machine&apos;s runs only.
          </span>
        )}
        {detail && !detail.exchange && (
        <>
        <Button size="sm" variant="outline" data-testid="run-replay" disabled={busy !== null} onClick={() => void replay(false)} title="Re-execute from the recording: no model, no network">
          <RotateCcw className="size-3.5" /> Replay offline
        </Button>
        {!access && (
        <select aria-label="Model for the live re-run" data-testid="rerun-model" className="max-w-[11rem] rounded border border-border bg-background px-1 py-0.5" value={model} onChange={(event) => setModel(event.target.value)}>
          {modelChoices(llm).map((choice) => (
            <option key={choice.value ?? ""} value={choice.value ?? ""}>
              {choice.label}
            </option>
          ))}
        </select>
        )}
        <Button size="sm" variant="outline" data-testid="run-rerun" disabled={busy !== null || !allows(access, "run")} onClick={() => void replay(true)} title={allows(access, "run") ? "Run it again live and compare node by node" : refusedBecause(access, "re-run runs")}>
          <Play className="size-3.5" /> Re-run live
        </Button>
        {resumable && (
          <Button size="sm" variant="outline" data-testid="run-resume" disabled={busy !== null || !allows(access, "approve")} title={allows(access, "approve") ? "Continue from its last checkpoint" : refusedBecause(access, "resume runs")} onClick={() => void resume()}>
            Resume
          </Button>
        )}
        </>
        )}
        <select
          aria-label="Compare with another run"
          data-testid="compare-with"
          className="max-w-[11rem] rounded border border-border bg-background px-1 py-0.5"
          value={comparison?.b.id ?? ""}
          onChange={(event) => void compare(event.target.value)}
        >
          <option value="">Compare with… ({others.length})</option>
          {others.map((other) => (
            <option key={other.id} value={other.id}>
              {other.id.slice(0, 8)} · {other.status} · {new Date((other.createdAt ?? 0) * 1000).toLocaleString()}
            </option>
          ))}
        </select>
        {busy && (
          <Button size="sm" variant="ghost" onClick={() => void commands.cancel(busy)}>
            Stop
          </Button>
        )}
        {status === "succeeded" && !access && (
          <span className="flex items-center gap-1">
            <input
              aria-label="Dataset to add the run to"
              data-testid="dataset-target"
              list={`datasets-${runId}`}
              className="w-28 rounded border border-border bg-background px-1 py-0.5"
              placeholder={dataset}
              value={target}
              onChange={(event) => setTarget(event.target.value)}
            />
            <datalist id={`datasets-${runId}`}>
              {datasets.map((name) => (
                <option key={name} value={name} />
              ))}
            </datalist>
            <Button size="sm" variant="outline" data-testid="add-to-dataset" disabled={busy !== null} onClick={() => void addToDataset()} title="Add this run to a dataset: its input, and its output as the expected answer">
              <ListPlus className="size-3.5" /> Add to dataset
            </Button>
          </span>
        )}
      </div>
      {added && (
        <div className="border-b border-border px-2 py-1 text-emerald-800 dark:text-emerald-400" role="status" data-testid="dataset-added">
          {added}
        </div>
      )}
      {report && (
        <div className="border-b border-border px-2 py-1.5" data-testid="replay-report" data-identical={report.data.identical}>
          <div className={report.data.identical ? "text-emerald-800 dark:text-emerald-400" : "text-amber-800 dark:text-amber-400"}>
            {report.live ? "live re-run" : "offline replay"}: {report.data.identical ? "identical to the recording, node by node" : `diverges first at ${diverged ?? "the output"}`}
            {report.live && (
              <button type="button" className="ml-2 underline" data-testid="compare-rerun" onClick={() => void compare(report.data.outcome.runId)}>
                Compare side by side
              </button>
            )}
          </div>
          <ul className="mt-1 max-h-24 overflow-auto">
            {report.data.nodes.map((node) => (
              <li key={node.node} className={node.same ? "text-muted-foreground" : node.node === diverged ? "font-semibold text-amber-800 dark:text-amber-400" : "text-amber-800 dark:text-amber-300"}>
                <button type="button" className="text-left" onClick={() => onFocus(node.node)} title={node.same ? "same output" : `recorded ${JSON.stringify(node.recorded)}\nnow ${JSON.stringify(node.now)}`}>
                  {node.same ? "=" : "≠"} {node.node}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {comparison ? (
        <RunCompare key={comparison.b.id} comparison={comparison} onFocus={onFocus} onClose={() => setComparison(null)} />
      ) : (
        <div className="flex min-h-0 flex-1">
          <ul className="w-32 shrink-0 overflow-y-auto border-r border-border py-1" aria-label="Nodes of the run">
            {detail?.nodes.map((trace) => (
              <li key={trace.node}>
                <button
                  type="button"
                  data-testid={`inspector-pick-${trace.node}`}
                  aria-current={shown?.node === trace.node}
                  className={`w-full truncate px-2 py-0.5 text-left font-mono ${shown?.node === trace.node ? "bg-muted" : ""} ${STATUS_TEXT[nodeStatus(trace)]}`}
                  onClick={() => onFocus(trace.node)}
                >
                  {trace.node}
                </button>
              </li>
            ))}
          </ul>
          <div className="min-w-0 flex-1 overflow-y-auto p-2">
            {shown ? <NodeDetail key={shown.node} trace={shown} busy={busy !== null} onFork={detail?.exchange || !allows(access, "run") ? null : (edits) => void fork(shown.node, edits)} /> : <div className="text-muted-foreground">{detail ? "no node ran" : "loading…"}</div>}
          </div>
        </div>
      )}
    </SidePanel>
  );
}

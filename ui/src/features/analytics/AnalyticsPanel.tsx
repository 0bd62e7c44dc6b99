import { BarChart3, Loader2, RefreshCw, X } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type Breakdown_Serialize as Breakdown, type Dashboard_Serialize as Dashboard, type RunSummary } from "@/ipc/bindings";
import { dollars } from "@/features/flow/runInspect";
import { RunInspector } from "@/features/flow/RunInspector";
import { useEscape } from "@/features/layout/useEscape";
import { charts, count, DIMENSIONS, lastDays, latency, percent, tiles, topChart, unitLabel, type Dimension } from "./analytics";
import { TimeChart } from "./TimeChart";

const selectClass = "h-7 rounded border border-border bg-background px-1 text-xs text-foreground";

interface Drill {
  title: string;
  by: string;
  value: string;
  from: string;
  to: string;
}

function Table({ title, rows, unit, testId, onPick }: { title: string; rows: Breakdown[]; unit: string; testId: string; onPick: (row: Breakdown) => void }) {
  return (
    <section className="min-w-0" data-testid={testId}>
      <h3 className="mb-1 text-xs font-semibold">{title}</h3>
      {rows.length === 0 ? (
        <p className="text-xs text-muted-foreground">nothing in this range</p>
      ) : (
        <table className="w-full text-xs">
          <thead className="text-left text-muted-foreground">
            <tr>
              <th className="font-normal">Name</th>
              <th className="text-right font-normal">{unitLabel(unit)}</th>
              <th className="text-right font-normal">Failed</th>
              <th className="text-right font-normal">p50</th>
              <th className="text-right font-normal">p95</th>
              <th className="text-right font-normal">Tokens</th>
              <th className="text-right font-normal">Cost</th>
              <th className="text-right font-normal">Fallback</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.value} className="border-t border-border">
                <td className="max-w-[16rem] truncate py-0.5">
                  <button type="button" className="truncate text-left font-mono underline-offset-2 hover:underline" title={`The runs behind ${row.value}`} data-testid="analytics-row" data-value={row.value} onClick={() => onPick(row)}>
                    {row.value}
                  </button>
                </td>
                <td className="text-right">{count(row.figures.count)}</td>
                <td className={`text-right ${row.figures.failures > 0 ? "text-destructive" : ""}`}>{count(row.figures.failures)}</td>
                <td className="text-right">{latency(row.figures.p50Ms)}</td>
                <td className="text-right">{latency(row.figures.p95Ms)}</td>
                <td className="text-right">{count(row.figures.tokensIn + row.figures.tokensOut)}</td>
                <td className="text-right">{dollars(row.figures.costUsd ?? 0)}</td>
                <td className="text-right">{percent(row.figures.fallbackRate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * The analytics dashboard: totals, day-by-day charts and a breakdown by
 * flow, node, provider, model or project over a date range, the slowest and
 * most expensive nodes; any day, row or node drills down to its runs and
 * from there into the run inspector.
 */
export function AnalyticsPanel({ dark, onClose, server = null }: { dark: boolean; onClose: () => void; /** A server's workspace open ("team on http://…"): its figures. */ server?: string | null }) {
  const initial = useMemo(() => lastDays(30), []);
  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState(initial.to);
  const [by, setBy] = useState<Dimension>("flow");
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [drill, setDrill] = useState<Drill | null>(null);
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [inspecting, setInspecting] = useState<string | null>(null);
  const [focus, setFocus] = useState<string | null>(null);
  useEscape(useCallback(() => (inspecting ? setInspecting(null) : onClose()), [inspecting, onClose]));

  // Answers can come back out of order (a long range after a short one):
  // only the latest request's answer is shown.
  const latest = useRef(0);
  const load = useCallback(async () => {
    const request = ++latest.current;
    setLoading(true);
    setError(null);
    try {
      const result = await commands.analyticsDashboard({ from, to, by });
      if (request !== latest.current) return;
      if (result.status === "ok") setDashboard(result.data);
      else setError(result.error.message);
    } finally {
      if (request === latest.current) setLoading(false);
    }
  }, [from, to, by]);
  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!drill) return;
    let current = true;
    setRuns(null);
    void commands.analyticsRuns(drill.by, drill.value, drill.from, drill.to).then((result) => {
      if (!current) return;
      if (result.status === "ok") setRuns(result.data);
      else setError(result.error.message);
    });
    return () => {
      current = false;
    };
  }, [drill]);

  const shown = useMemo(() => {
    if (!dashboard) return [];
    const top = topChart(dashboard);
    return top ? [...charts(dashboard), top] : charts(dashboard);
  }, [dashboard]);
  const pickDay = useCallback(
    (index: number) => {
      const day = dashboard?.days[index];
      if (day) setDrill({ title: `Runs on ${day.date}`, by: "all", value: "", from: day.date, to: day.date });
    },
    [dashboard],
  );
  const pickRow = (dimension: string) => (row: Breakdown) => setDrill({ title: `Runs with ${dimension} ${row.value}, ${from} to ${to}`, by: dimension, value: row.value, from, to });
  const preset = (days: number) => {
    const range = lastDays(days);
    setFrom(range.from);
    setTo(range.to);
  };

  return (
    <div className="absolute inset-0 z-10 flex flex-col bg-background" data-testid="analytics-panel" role="dialog" aria-label="Analytics">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-4 py-2 text-xs">
        <BarChart3 className="size-4 text-muted-foreground" />
        <h2 className="text-sm font-semibold">Analytics</h2>
        <span className="text-muted-foreground" data-testid="analytics-where">
          {server ? `of ${server}` : "of this machine"}
        </span>
        <label className="flex items-center gap-1 text-muted-foreground">
          From
          <input type="date" className={selectClass} data-testid="analytics-from" value={from} max={to} onChange={(event) => event.target.value && setFrom(event.target.value)} />
        </label>
        <label className="flex items-center gap-1 text-muted-foreground">
          to
          <input type="date" className={selectClass} data-testid="analytics-to" value={to} min={from} onChange={(event) => event.target.value && setTo(event.target.value)} />
        </label>
        {[7, 30, 90].map((days) => (
          <Button key={days} size="sm" variant="ghost" className="h-7 px-2" onClick={() => preset(days)}>
            {days} d
          </Button>
        ))}
        <label className="flex items-center gap-1 text-muted-foreground">
          by
          <select className={selectClass} data-testid="analytics-by" value={by} onChange={(event) => setBy(event.target.value as Dimension)}>
            {DIMENSIONS.map((dimension) => (
              <option key={dimension} value={dimension}>
                {dimension}
              </option>
            ))}
          </select>
        </label>
        <Button size="sm" variant="ghost" className="h-7" aria-label="Refresh" onClick={() => void load()} disabled={loading}>
          {loading ? <Loader2 className="size-3.5 animate-spin" /> : <RefreshCw className="size-3.5" />}
        </Button>
        {dashboard && (
          <span className="text-muted-foreground" data-testid="analytics-timing">
            {dashboard.from} … {dashboard.to} (UTC days) · answered in {(dashboard.queryMs ?? 0).toFixed(1)} ms
          </span>
        )}
        <Button size="icon" variant="ghost" className="ml-auto size-7" aria-label="Close analytics" onClick={onClose}>
          <X className="size-4" />
        </Button>
      </div>
      {error && (
        <div className="border-b border-border px-4 py-1 text-xs text-destructive" role="alert">
          {error}
        </div>
      )}
      <div className="relative min-h-0 flex-1 overflow-y-auto p-4">
        {!dashboard ? (
          <p className="text-xs text-muted-foreground">{loading ? "reading the runs…" : ""}</p>
        ) : dashboard.totals.count === 0 && dashboard.totals.modelCalls === 0 ? (
          <p className="text-sm text-muted-foreground" data-testid="analytics-empty">
            No runs from {dashboard.from} to {dashboard.to}. Run a flow from the canvas (or widen the range) and its runs, tokens, cost and latency show here.
          </p>
        ) : (
          <div className="flex flex-col gap-4">
            <div className="grid grid-cols-[repeat(auto-fill,minmax(9.5rem,1fr))] gap-2" data-testid="analytics-totals">
              {tiles(dashboard.totals).map((tile) => (
                <div key={tile.label} className="rounded border border-border p-2" data-testid="analytics-tile" data-label={tile.label}>
                  <div className="text-[11px] text-muted-foreground">{tile.label}</div>
                  <div className="whitespace-nowrap text-base font-semibold" data-testid="analytics-tile-value">
                    {tile.value}
                  </div>
                  <div className="truncate text-[11px] text-muted-foreground" title={tile.detail}>
                    {tile.detail}
                  </div>
                </div>
              ))}
            </div>
            <div className="grid grid-cols-1 gap-2 lg:grid-cols-2">
              {shown.map((chart) => (
                <TimeChart key={chart.id} chart={chart} dark={dark} onPick={pickDay} />
              ))}
            </div>
            <details className="text-xs" data-testid="analytics-days">
              <summary className="cursor-pointer text-muted-foreground">Day by day, as a table</summary>
              <table className="mt-1 w-full max-w-xl">
                <thead className="text-left text-muted-foreground">
                  <tr>
                    <th className="font-normal">Day (UTC)</th>
                    <th className="text-right font-normal">Runs</th>
                    <th className="text-right font-normal">Failed</th>
                    <th className="text-right font-normal">p95</th>
                    <th className="text-right font-normal">Tokens</th>
                    <th className="text-right font-normal">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {dashboard.days
                    .map((day, index) => ({ day, index }))
                    .filter(({ day }) => day.figures.count > 0 || day.figures.modelCalls > 0)
                    .map(({ day, index }) => (
                      <tr key={day.date} className="border-t border-border">
                        <td>
                          <button type="button" className="font-mono underline-offset-2 hover:underline" data-testid="analytics-day" data-date={day.date} onClick={() => pickDay(index)}>
                            {day.date}
                          </button>
                        </td>
                        <td className="text-right">{count(day.figures.count)}</td>
                        <td className="text-right">{count(day.figures.failures)}</td>
                        <td className="text-right">{latency(day.figures.p95Ms)}</td>
                        <td className="text-right">{count(day.figures.tokensIn + day.figures.tokensOut)}</td>
                        <td className="text-right">{dollars(day.figures.costUsd ?? 0)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </details>
            <Table title={`By ${dashboard.by}`} rows={dashboard.breakdown} unit={dashboard.unit} testId="analytics-breakdown" onPick={pickRow(dashboard.by)} />
            <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
              <Table title="Slowest nodes (p95)" rows={dashboard.slowestNodes} unit="node runs" testId="analytics-slowest" onPick={pickRow("node")} />
              <Table title="Most expensive nodes" rows={dashboard.costliestNodes} unit="node runs" testId="analytics-costliest" onPick={pickRow("node")} />
            </div>
          </div>
        )}
        {drill && (
          <section className="mt-4 rounded border border-border p-2" data-testid="analytics-runs" aria-label={drill.title}>
            <div className="mb-1 flex items-center gap-2">
              <h3 className="text-xs font-semibold">{drill.title}</h3>
              <Button size="icon" variant="ghost" className="ml-auto size-6" aria-label="Close the run list" onClick={() => setDrill(null)}>
                <X className="size-3.5" />
              </Button>
            </div>
            {runs === null ? (
              <p className="text-xs text-muted-foreground">loading…</p>
            ) : runs.length === 0 ? (
              <p className="text-xs text-muted-foreground">no runs</p>
            ) : (
              <ul className="max-h-60 overflow-y-auto text-xs">
                {runs.map((run) => (
                  <li key={run.id}>
                    <button type="button" className="flex w-full gap-2 px-1 py-0.5 text-left hover:bg-muted" data-testid="analytics-run" data-run={run.id} onClick={() => setInspecting(run.id)}>
                      <span className="font-mono">{run.id.slice(0, 8)}</span>
                      <span className={run.status === "failed" ? "text-destructive" : "text-muted-foreground"}>{run.status}</span>
                      <span className="truncate">{run.flow}</span>
                      <span className="ml-auto text-muted-foreground">{new Date((run.createdAt ?? 0) * 1000).toLocaleString()}</span>
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </section>
        )}
      </div>
      {inspecting && <RunInspector key={inspecting} runId={inspecting} focus={focus} onFocus={setFocus} onClose={() => setInspecting(null)} onEvent={() => {}} onNewRun={setInspecting} />}
    </div>
  );
}

// What the analytics dashboard shows of the engine's figures: the default
// range, numbers read at a glance, and the series its charts draw. Pure logic.
import type { Dashboard_Serialize as Dashboard, Figures_Serialize as Figures } from "@/ipc/bindings";
import { dollars } from "@/features/flow/runInspect";

export const DIMENSIONS = ["flow", "node", "provider", "model", "project"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** `YYYY-MM-DD` of a date, in UTC (the engine's days are UTC days). */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The last `days` days up to `today`, both included. */
export function lastDays(days: number, today: Date = new Date()): { from: string; to: string } {
  const from = new Date(today.getTime() - (days - 1) * 86_400_000);
  return { from: isoDay(from), to: isoDay(today) };
}

/** Milliseconds as `850 ms` or `2.4 s`, or a dash. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return "<1 ms";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A share as a percentage, or a dash. */
export function percent(share: number | null | undefined): string {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
}

/** A count with thousands separated: 12,345. */
export function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export interface Tile {
  label: string;
  value: string;
  detail: string;
}

/** The totals as tiles. */
export function tiles(totals: Figures): Tile[] {
  const failed = totals.failures > 0 ? `${count(totals.failures)} failed (${percent(totals.failures / Math.max(1, totals.count))})` : "none failed";
  return [
    { label: "Runs", value: count(totals.count), detail: totals.cancelled > 0 ? `${failed}, ${count(totals.cancelled)} cancelled` : failed },
    { label: "Tokens", value: count(totals.tokensIn + totals.tokensOut), detail: `${count(totals.tokensIn)} in → ${count(totals.tokensOut)} out` },
    { label: "Cost", value: dollars(totals.costUsd ?? 0), detail: totals.unpricedCalls > 0 ? `+ ${count(totals.unpricedCalls)} unpriced calls` : `${count(totals.modelCalls)} model calls` },
    { label: "Run latency", value: `${latency(totals.p50Ms)} / ${latency(totals.p95Ms)}`, detail: "p50 / p95" },
    { label: "Model latency", value: `${latency(totals.modelP50Ms)} / ${latency(totals.modelP95Ms)}`, detail: "p50 / p95 per call" },
    { label: "Fallback rate", value: percent(totals.fallbackRate), detail: "calls that needed another provider" },
  ];
}

export interface Series {
  label: string;
  values: (number | null)[];
}

export interface Chart {
  id: string;
  title: string;
  /** Unix seconds of each day (midnight UTC). */
  days: number[];
  series: Series[];
  format: (value: number) => string;
  /** The y axis: `share` fixed at 0–100 %, `count` whole numbers from 0,
   * `amount` from 0 (all start at 0: a day of nothing reads as 0). */
  axis: "share" | "count" | "amount";
}

/** The y range a chart draws: from 0 to a little above its highest value, 0–1
 * for shares, and 0–1 (not uPlot's 0–100) when every value is 0. */
export function yRange(axis: Chart["axis"], highest: number | null | undefined): [number, number] {
  if (axis === "share") return [0, 1];
  const top = highest ?? 0;
  if (!(top > 0)) return [0, 1];
  return [0, axis === "count" ? Math.max(1, Math.ceil(top * 1.1)) : top * 1.1];
}

/** The dashboard's charts of the totals, day by day. */
export function charts(dashboard: Dashboard): Chart[] {
  const days = dashboard.days.map((day) => Date.parse(`${day.date}T00:00:00Z`) / 1000);
  const pick = (read: (figures: Figures) => number | null | undefined) => dashboard.days.map((day) => read(day.figures) ?? null);
  return [
    { id: "runs", title: "Runs and failures", days, series: [{ label: "runs", values: pick((f) => f.count) }, { label: "failed", values: pick((f) => f.failures) }], format: count, axis: "count" },
    { id: "tokens", title: "Tokens", days, series: [{ label: "in", values: pick((f) => f.tokensIn) }, { label: "out", values: pick((f) => f.tokensOut) }], format: count, axis: "count" },
    { id: "cost", title: "Cost", days, series: [{ label: "dollars", values: pick((f) => f.costUsd ?? 0) }], format: dollars, axis: "amount" },
    {
      id: "fallback",
      title: "Fallback rate",
      days,
      series: [{ label: "calls that fell back", values: pick((f) => (f.modelCalls > 0 ? f.fallbackRate : null)) }],
      format: (value) => percent(value),
      axis: "share",
    },
    {
      id: "latency",
      title: "Run latency",
      days,
      series: [
        { label: "p50", values: pick((f) => (f.count > 0 ? f.p50Ms : null)) },
        { label: "p95", values: pick((f) => (f.count > 0 ? f.p95Ms : null)) },
      ],
      format: latency,
      axis: "amount",
    },
  ];
}

/** The five most counted values of the dimension, day by day (empty
 * without any). */
export function topChart(dashboard: Dashboard): Chart | null {
  if (dashboard.topDays.length === 0) return null;
  return {
    id: "top",
    title: `${unitLabel(dashboard.unit)} by ${dashboard.by}, top ${dashboard.topDays.length}`,
    days: dashboard.days.map((day) => Date.parse(`${day.date}T00:00:00Z`) / 1000),
    series: dashboard.topDays.map((line) => ({ label: line.value, values: line.counts })),
    format: count,
    axis: "count",
  };
}

/** What `count` means in a breakdown row, for its column header. */
export function unitLabel(unit: string): string {
  return unit.charAt(0).toUpperCase() + unit.slice(1);
}

import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import { yRange, type Chart } from "./analytics";

const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed"];
/** Tick steps of a count axis: whole numbers only. */
const WHOLE = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 25_000, 50_000, 100_000, 200_000, 250_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000];

/** One time series chart (uPlot); a click on a day picks it. */
export function TimeChart({ chart, dark, onPick }: { chart: Chart; dark: boolean; onPick: (index: number) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const ink = dark ? "#cbd5e1" : "#334155";
    const grid = dark ? "#334155" : "#e2e8f0";
    const format = (value: number | null) => (value === null ? "—" : chart.format(value));
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: 150,
      scales: { x: { time: true }, y: { range: (_plot, _min, max) => yRange(chart.axis, max) } },
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: true },
      series: [
        { value: (_plot, value) => (value === null ? "" : new Date(value * 1000).toISOString().slice(0, 10)) },
        ...chart.series.map((series, index) => ({ label: series.label, stroke: COLORS[index % COLORS.length], width: 1.5, spanGaps: false, points: { show: chart.days.length <= 62 }, value: (_plot: uPlot, value: number | null) => format(value) })),
      ],
      axes: [
        { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 64, values: (_plot, ticks) => ticks.map((tick) => (chart.axis === "share" ? `${Math.round(tick * 100)}%` : format(tick))), ...(chart.axis === "count" ? { incrs: WHOLE } : {}) },
      ],
    };
    const data: uPlot.AlignedData = [chart.days, ...chart.series.map((series) => series.values)];
    const plot = new uPlot(options, data, element);
    // The day under the pointer, from the click itself (the cursor's own
    // index is updated on the next animation frame, so it may lag).
    const click = (event: MouseEvent) => {
      const index = plot.posToIdx(event.clientX - plot.over.getBoundingClientRect().left);
      if (index >= 0 && index < chart.days.length) pick.current(index);
    };
    plot.over.addEventListener("click", click);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(200, element.clientWidth), height: 150 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.over.removeEventListener("click", click);
      plot.destroy();
    };
  }, [chart, dark]);
  return (
    <figure className="min-w-0 rounded border border-border p-2" data-testid={`chart-${chart.id}`}>
      <figcaption className="mb-1 text-xs font-medium">{chart.title} <span className="font-normal text-muted-foreground">— click a day for its runs</span></figcaption>
      <div ref={box} role="img" aria-label={`${chart.title}, day by day`} className="cursor-pointer" />
    </figure>
  );
}

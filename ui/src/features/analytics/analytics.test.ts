import { describe, expect, it } from "vitest";

import type { Dashboard_Serialize as Dashboard, Figures_Serialize as Figures } from "@/ipc/bindings";
import { charts, lastDays, latency, percent, tiles, topChart, yRange } from "./analytics";

const NONE: Figures = { count: 0, failures: 0, cancelled: 0, p50Ms: null, p95Ms: null, modelCalls: 0, tokensIn: 0, tokensOut: 0, cached: 0, costUsd: 0, unpricedCalls: 0, fallbackRate: null, modelP50Ms: null, modelP95Ms: null };
const SOME: Figures = { ...NONE, count: 40, failures: 2, p50Ms: 1200, p95Ms: 8400, modelCalls: 120, tokensIn: 10_000, tokensOut: 2_345, costUsd: 0.0421, fallbackRate: 0.025, modelP50Ms: 800, modelP95Ms: 3100 };

describe("the analytics dashboard's reading of the figures", () => {
  it("defaults to the last 30 UTC days, today included", () => {
    expect(lastDays(30, new Date("2026-12-05T23:30:00Z"))).toEqual({ from: "2026-11-06", to: "2026-12-05" });
    expect(lastDays(1, new Date("2026-12-05T00:10:00Z"))).toEqual({ from: "2026-12-05", to: "2026-12-05" });
  });

  it("reads totals as tiles a person takes in at a glance", () => {
    const shown = tiles(SOME);
    expect(shown.map((tile) => `${tile.label}: ${tile.value}`)).toEqual([
      "Runs: 40",
      "Tokens: 12,345",
      "Cost: $0.04",
      "Run latency: 1.2 s / 8.4 s",
      "Model latency: 800 ms / 3.1 s",
      "Fallback rate: 2.5%",
    ]);
    expect(shown[0]?.detail).toBe("2 failed (5.0%)");
    expect(tiles(NONE)[3]?.value).toBe("— / —");
  });

  it("draws a day with no runs as a gap in latency and a zero in counts", () => {
    const dashboard = {
      from: "2026-12-04",
      to: "2026-12-05",
      by: "flow",
      unit: "runs",
      totals: SOME,
      days: [
        { date: "2026-12-04", figures: NONE },
        { date: "2026-12-05", figures: SOME },
      ],
      breakdown: [],
      topDays: [{ value: "qa", counts: [0, 40], costUsd: [0, 0.04] }],
      slowestNodes: [],
      costliestNodes: [],
      rolledUp: 0,
      queryMs: 1,
    } as Dashboard;
    const [runs, , cost, fallback, times] = charts(dashboard);
    if (!runs || !cost || !fallback || !times) throw new Error("five charts");
    expect(fallback.series[0]?.values).toEqual([null, 0.025]);
    expect(fallback.format(0.025)).toBe("2.5%");
    const top = topChart(dashboard);
    expect(top?.title).toBe("Runs by flow, top 1");
    expect(top?.series).toEqual([{ label: "qa", values: [0, 40] }]);
    expect(runs.days).toEqual([Date.UTC(2026, 11, 4) / 1000, Date.UTC(2026, 11, 5) / 1000]);
    expect(runs.series[0]?.values).toEqual([0, 40]);
    expect(cost.format(0.0421)).toBe("$0.04");
    expect(times.series.map((series) => series.values)).toEqual([
      [null, 1200],
      [null, 8400],
    ]);
    expect(latency(950)).toBe("950 ms");
    expect(latency(0.5)).toBe("<1 ms");
    expect(percent(null)).toBe("—");
  });

  it("starts every axis at 0, keeps shares at 0–100 % and an all-zero range small", () => {
    expect(yRange("share", 0)).toEqual([0, 1]);
    expect(yRange("share", 0.02)).toEqual([0, 1]);
    expect(yRange("amount", 0)).toEqual([0, 1]);
    expect(yRange("count", null)).toEqual([0, 1]);
    expect(yRange("count", 15)).toEqual([0, 17]);
    expect(yRange("count", 0.5)).toEqual([0, 1]);
    const [low, high] = yRange("amount", 20_500);
    expect(low).toBe(0);
    expect(high).toBeCloseTo(22_550);
    expect(charts({ days: [], topDays: [] } as unknown as Dashboard).find((chart) => chart.id === "fallback")?.axis).toBe("share");
  });
});


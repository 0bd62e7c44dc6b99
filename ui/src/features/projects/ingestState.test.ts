import { describe, expect, it } from "vitest";

import { applyIngestEvent, fraction, startIngest } from "./ingestState";

describe("ingest progress", () => {
  it("goes from unknown to complete", () => {
    let state = startIngest("/docs");
    expect(fraction(state)).toBeNull();
    state = applyIngestEvent(state, { type: "scanned", project: "docs", total: 4 });
    expect(fraction(state)).toBe(0);
    state = applyIngestEvent(state, { type: "skipped", file: { path: "a.bin", reason: "binary file" } });
    state = applyIngestEvent(state, { type: "progress", done: 2, total: 4, path: "b.md" });
    expect(fraction(state)).toBe(0.5);
    expect(state.current).toBe("b.md");
    expect(state.skipped).toBe(1);
  });

  it("treats an empty folder as done", () => {
    const state = applyIngestEvent(startIngest("/empty"), { type: "scanned", project: "e", total: 0 });
    expect(fraction(state)).toBe(1);
  });
});
